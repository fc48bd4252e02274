package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/protocol"
)

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "switchboard")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// syncBuffer is a bytes.Buffer the child process writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func TestServeDemoAndSIGTERM(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	addr := freePort(t)
	cmd := exec.Command(bin, "serve", "--demo", "--listen", addr, "--sip-listen", "127.0.0.1:0", "--data", data)
	cmd.Env = append(os.Environ(), "SWITCHBOARD_ADMIN_KEY=")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }()

	// The demo prints the admin key and one token per user.
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var key string
	var tokens []string
	tokenRe := regexp.MustCompile(`token: (\S+)`)
	for sc.Scan() && len(tokens) < 3 {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "sbk_") {
			key = strings.TrimSpace(line)
		}
		if m := tokenRe.FindStringSubmatch(line); m != nil {
			tokens = append(tokens, m[1])
		}
	}
	require.NotEmpty(t, key, stderr.String())
	require.Len(t, tokens, 3)
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	req, _ := http.NewRequest("GET", "http://"+addr+"/v1/users", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	for _, ext := range []string{`"101"`, `"102"`, `"103"`} {
		require.Contains(t, string(body), ext)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/v1/webrtc", &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
	require.NoError(t, err)
	frame, _ := protocol.Encode(&protocol.Authenticate{Token: tokens[0]})
	require.NoError(t, ws.Write(ctx, websocket.MessageText, frame))
	_, data1, err := ws.Read(ctx)
	require.NoError(t, err)
	require.Contains(t, string(data1), `"authenticated"`)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	_, data2, err := ws.Read(ctx)
	require.NoError(t, err)
	msg, err := protocol.DecodeServer(data2)
	require.NoError(t, err)
	require.Equal(t, protocol.CodeGoingAway, msg.(*protocol.Error).Code)
	_, _, err = ws.Read(ctx)
	require.Equal(t, websocket.StatusGoingAway, websocket.CloseStatus(err))
	require.NoError(t, cmd.Wait(), stderr.String())

	// Restarting in demo mode is idempotent: still three users.
	out, err := exec.Command(bin, "user", "list", "--data", data).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, 3, strings.Count(string(out), "user_"))
}

func TestAdminCommands(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	run := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append(args, "--data", data)...).CombinedOutput()
		return string(out), err
	}
	out, err := run("user", "create", "--name", "Erin", "--ext", "201")
	require.NoError(t, err, out)
	id := regexp.MustCompile(`user_[a-z0-9]+`).FindString(out)
	require.NotEmpty(t, id)
	out, err = run("user", "create", "--name", "Dup", "--ext", "201")
	require.Error(t, err)
	require.Contains(t, out, "taken")
	out, err = run("user", "create", "--name", "Bad", "--ext", "x1")
	require.Error(t, err)
	require.Contains(t, out, "extension")
	out, err = run("user", "update", "--id", id, "--dnd=true")
	require.NoError(t, err, out)
	require.Contains(t, out, `"DoNotDisturb": true`)
	out, err = run("number", "create", "--number", "+442071234567", "--user", id)
	require.NoError(t, err, out)
	out, err = run("number", "create", "--number", "12345")
	require.Error(t, err)
	require.Contains(t, out, "E.164")
	out, err = run("number", "list")
	require.NoError(t, err)
	require.Contains(t, out, "+442071234567\t"+id)
	out, err = run("token", "--user", "201", "--ttl", "1h")
	require.NoError(t, err, out)
	require.Regexp(t, `^eyJ`, out)
	out, err = run("user", "delete", "--id", id)
	require.NoError(t, err, out)
	out, _ = run("user", "list")
	require.NotContains(t, out, id)

	raw, err := exec.Command(bin, "version").CombinedOutput()
	require.NoError(t, err)
	require.Contains(t, string(raw), "switchboard")
	require.Error(t, exec.Command(bin, "bogus").Run())
	raw, err = exec.Command(bin, "serve", "--help").CombinedOutput()
	require.NoError(t, err)
	require.Contains(t, string(raw), "-listen")
	raw, err = exec.Command(bin, "serve", "--data", data, "--listen", "nope").CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(raw), "invalid configuration")
}

func TestTrunkCommands(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	run := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append(args, "--data", data)...).CombinedOutput()
		return string(out), err
	}
	out, err := run("trunk", "create", "--name", "carrier", "--host", "sip.example.com", "--prefixes", "+1,+44",
		"--username", "acme", "--password", "s3cret-pass", "--register", "--priority", "2")
	require.NoError(t, err, out)
	require.NotContains(t, out, "s3cret-pass")
	require.Contains(t, out, `"RegisterExpires": 600`)
	id := regexp.MustCompile(`trunk_[a-z0-9]+`).FindString(out)
	require.NotEmpty(t, id)
	out, err = run("trunk", "create", "--name", "Carrier", "--host", "192.0.2.1")
	require.Error(t, err)
	require.Contains(t, out, "taken")
	out, err = run("trunk", "create", "--name", "bad", "--host", "192.0.2.1", "--transport", "sctp")
	require.Error(t, err)
	require.Contains(t, out, "transport")
	out, err = run("trunk", "create", "--name", "backup", "--host", "192.0.2.1", "--register")
	require.Error(t, err)
	require.Contains(t, out, "register needs a username")
	out, err = run("trunk", "create", "--name", "backup", "--host", "192.0.2.1", "--transport", "tcp")
	require.NoError(t, err, out)
	out, err = run("trunk", "list")
	require.NoError(t, err, out)
	require.Contains(t, out, id+"\tcarrier\tsip.example.com:5060/udp\tprefixes=+1,+44\tpriority=2\tregister=true")
	require.Contains(t, out, "\tbackup\t192.0.2.1:5060/tcp")
	out, err = run("trunk", "delete", "--id", id)
	require.NoError(t, err, out)
	out, err = run("trunk", "delete", "--name", "backup")
	require.NoError(t, err, out)
	out, _ = run("trunk", "list")
	require.Empty(t, out)
	_, err = run("trunk", "delete", "--id", id)
	require.Error(t, err)

	raw, err := exec.Command(bin, "trunk", "--help").CombinedOutput()
	require.NoError(t, err)
	require.Contains(t, string(raw), "switchboard trunk <command>")
	raw, err = exec.Command(bin, "trunk", "create", "--help").CombinedOutput()
	require.NoError(t, err)
	require.Contains(t, string(raw), "-register-expires")
}
