package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/test/harness"
	"github.com/switchboard-voice/switchboard/test/rest"
	"github.com/switchboard-voice/switchboard/test/syncbuf"
)

func buildBinary(t *testing.T, flags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "switchboard")
	out, err := exec.Command("go", append(append([]string{"build"}, flags...), "-o", bin, ".")...).CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

func TestServeDemoAndSIGTERM(t *testing.T) {
	bin := buildBinary(t, "-ldflags", "-X main.version=v0.0.0-test")
	data := t.TempDir()
	addr := harness.FreeAddr(t)
	cmd := exec.Command(bin, "serve", "--demo", "--listen", addr, "--sip-listen", "127.0.0.1:0", "--data", data)
	cmd.Env = append(os.Environ(), "SWITCHBOARD_ADMIN_KEY=")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr syncbuf.Buffer
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

	r := rest.Do(t, "GET", "http://"+addr+"/v1/users", key, nil)
	require.Equal(t, 200, r.Status)
	for _, ext := range []string{`"101"`, `"102"`, `"103"`} {
		require.Contains(t, string(r.Raw), ext)
	}
	// The system summary has the build's version and flags the demo.
	r = rest.Do(t, "GET", "http://"+addr+"/v1/system", key, nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	require.Equal(t, "v0.0.0-test", r.Body["version"])
	require.Contains(t, string(r.Raw), `"code":"demo_mode"`)

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
	out, err = run("trunk", "create", "--name", "pbx", "--host", "192.0.2.5", "--inbound-auth", "digest")
	require.Error(t, err)
	require.Contains(t, out, "inbound_auth digest needs inbound_username and inbound_password")
	out, err = run("trunk", "create", "--name", "pbx", "--host", "192.0.2.5", "--inbound-addresses", "192.0.2.5:5080",
		"--inbound-auth", "digest", "--inbound-username", "pbx", "--inbound-password", "in-s3cret")
	require.NoError(t, err, out)
	require.NotContains(t, out, "in-s3cret")
	require.Contains(t, out, `"InboundAuth": "digest"`)
	out, err = run("trunk", "create", "--name", "backup", "--host", "192.0.2.1", "--transport", "tcp")
	require.NoError(t, err, out)
	out, err = run("trunk", "list")
	require.NoError(t, err, out)
	require.Contains(t, out, "\tpbx\t192.0.2.5:5060/udp\tprefixes=\tpriority=0\tregister=false\tinbound_auth=digest")
	require.Contains(t, out, "\tbackup\t192.0.2.1:5060/tcp\tprefixes=\tpriority=0\tregister=false\tinbound_auth=address")
	require.Contains(t, out, id+"\tcarrier\tsip.example.com:5060/udp\tprefixes=+1,+44\tpriority=2\tregister=true")
	require.Contains(t, out, "\tbackup\t192.0.2.1:5060/tcp")
	out, err = run("trunk", "delete", "--id", id)
	require.NoError(t, err, out)
	out, err = run("trunk", "delete", "--name", "backup")
	require.NoError(t, err, out)
	out, err = run("trunk", "delete", "--name", "pbx")
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

func TestRoutingCommands(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "switchboard.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("trunks:\n  - name: carrier-a\n    host: 192.0.2.10\n    prefixes: [\"+44\"]\n"), 0o600))
	run := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append(args, "--data", data)...).CombinedOutput()
		return string(out), err
	}
	mustRun := func(args ...string) string {
		t.Helper()
		out, err := run(args...)
		require.NoError(t, err, out)
		return out
	}
	userID := regexp.MustCompile(`user_[a-z0-9]+`)
	alice := userID.FindString(mustRun("user", "create", "--name", "Alice", "--ext", "101"))
	bob := userID.FindString(mustRun("user", "create", "--name", "Bob", "--ext", "102"))
	require.NotEmpty(t, alice)
	require.Contains(t, mustRun("user", "list"), "\texternal=true\trole=user")
	require.Contains(t, mustRun("user", "update", "--id", bob, "--role", "admin"), `"Role": "admin"`)
	require.Contains(t, mustRun("user", "list"), "Bob\tsip:102\tdnd=false\texternal=true\trole=admin")
	roleOut, roleErr := run("user", "update", "--id", bob, "--role", "root")
	require.Error(t, roleErr)
	require.Contains(t, roleOut, "--role must be user or admin")
	roleOut, roleErr = run("user", "create", "--name", "Eve", "--ext", "109", "--role", "boss")
	require.Error(t, roleErr)
	require.Contains(t, roleOut, "role")

	// Dial plan: set, then show reads the same back.
	out := mustRun("dialplan", "set", "--country", "gb", "--emergency", "999,112", "--emergency-trunk", "CARRIER-A",
		"--international-allow", "+33,+44", "--max-outbound", "2", "--config", cfg)
	require.Contains(t, out, "carrier-a")
	shown := mustRun("dialplan", "show")
	require.Equal(t, out, shown)
	for _, want := range []string{"country              GB", "emergency numbers    999,112", "international allow  +33,+44",
		"max outbound calls   2", "extension length     any 2 to 8 digits"} {
		require.Contains(t, shown, want)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"dialplan", "set", "--country", "XX"}, `country "XX"`},
		{[]string{"dialplan", "set", "--extension-length", "9"}, "extension_length"},
		{[]string{"dialplan", "set", "--extension-length", "4"}, "extensions of other lengths (101, 102)"},
		{[]string{"dialplan", "set", "--emergency", "9"}, `emergency number "9"`},
		{[]string{"dialplan", "set", "--emergency-trunk", "carrier-a"}, `emergency_trunk "carrier-a": no trunk`},
		{[]string{"dialplan", "set", "--international-allow", "33"}, `international prefix "33"`},
		{[]string{"dialplan", "set", "--max-outbound", "-1"}, "max_outbound_calls"},
		{[]string{"dialplan", "show", "--account", "acct_missing"}, "acct_missing"},
		{[]string{"followme", "set", "--user", "101"}, "--step"},
		{[]string{"followme", "set", "--user", "101", "--step", "devices:2"}, "ring_seconds must be 5 to 300"},
		{[]string{"followme", "set", "--user", "101", "--step", "devices:x"}, `ring seconds "x"`},
		{[]string{"followme", "set", "--user", "109", "--step", "devices"}, `extension "109"`},
		{[]string{"ringgroup", "create", "--name", "X", "--ext", "101", "--members", "101"}, "taken by a user"},
		{[]string{"ringgroup", "create", "--name", "X", "--members", "105"}, `extension "105"`},
		{[]string{"ringgroup", "create", "--name", "X", "--members", "101", "--ring-seconds", "1"}, "ring_seconds"},
		{[]string{"route", "test", "101"}, "FROM and DESTINATION"},
		{[]string{"route", "test", "105", "101"}, "no such user"},
	} {
		out, err := run(tc.args...)
		require.Error(t, err, "%v: %s", tc.args, out)
		require.Contains(t, out, tc.want, "%v", tc.args)
	}
	require.Contains(t, mustRun("dialplan", "show"), "emergency trunk      carrier-a", "failed sets change nothing")

	// Follow-me and a ring group that it forwards to.
	out = mustRun("ringgroup", "create", "--name", "Sales", "--ext", "200", "--members", "101,"+bob)
	group := regexp.MustCompile(`rg_[a-z0-9]+`).FindString(out)
	require.NotEmpty(t, group)
	require.Contains(t, mustRun("ringgroup", "list"), group+"\t200\tSales\tmembers="+alice+","+bob+"\tring=30s")
	mustRun("ringgroup", "update", "--id", group, "--ring-seconds", "45")
	out = mustRun("followme", "set", "--user", "102", "--step", "devices:15", "--step", "devices,101:25", "--final-forward", "200")
	require.Contains(t, out, "step 2: ring devices, 101 for 25 s")
	require.Contains(t, mustRun("followme", "show", "--user", bob), "then: forward to 200")

	out = mustRun("route", "test", "101", "102")
	require.Contains(t, out, "extension 102 → user Bob")
	require.Contains(t, out, "ring group Sales")
	require.Contains(t, out, "for 45s")

	// Trunks come from the config file and the store.
	out = mustRun("route", "test", "--config", cfg, alice, "02071234567")
	require.Contains(t, out, "+442071234567")
	require.Contains(t, out, "carrier-a")
	out = mustRun("route", "test", "101", "*43")
	require.Contains(t, out, "echo test")
	out = mustRun("route", "test", "trunk", "101")
	require.Contains(t, out, "refused")

	out = mustRun("user", "update", "--id", alice, "--can-call-external=false")
	require.Contains(t, out, `"CanCallExternal": false`)
	out = mustRun("route", "test", "--config", cfg, "101", "+442071234567")
	require.Contains(t, out, "may not call numbers outside the account")

	// Numbers ring a user or a group.
	out = mustRun("number", "create", "--number", "+442071234500", "--user", alice)
	num := regexp.MustCompile(`pn_[a-z0-9]+`).FindString(out)
	out, err := run("number", "route", "--id", num, "--user", alice, "--ring-group", group)
	require.Error(t, err, out)
	require.Contains(t, out, "not both")
	mustRun("number", "route", "--id", num, "--ring-group", group)
	require.Contains(t, mustRun("number", "list"), "+442071234500\t"+group)
	out = mustRun("route", "test", "trunk", "+442071234500")
	require.Contains(t, out, "ring group Sales")

	mustRun("followme", "clear", "--user", "102")
	mustRun("followme", "clear", "--user", "102")
	require.Contains(t, mustRun("followme", "show", "--user", "102"), "no follow-me")
	mustRun("ringgroup", "delete", "--id", group)
	require.Contains(t, mustRun("number", "list"), "+442071234500\t\n")

	raw, err := exec.Command(bin, "--help").CombinedOutput()
	require.NoError(t, err)
	for _, cmd := range []string{"dialplan", "followme", "ringgroup", "route"} {
		require.Contains(t, string(raw), "switchboard "+cmd)
	}
}

// waitFor polls cond every 20 ms until it holds or timeout passes; what
// says what was awaited (called on failure).
func waitFor(t *testing.T, timeout time.Duration, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServeDemoGuards(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()

	// Demo mode refuses addresses other hosts can reach, naming them.
	for _, args := range [][]string{
		{"--listen", "0.0.0.0:0"}, {"--sip-listen", "0.0.0.0:0"}, {"--listen", "[::]:0"}, {"--listen", ":0"},
	} {
		out, err := exec.Command(bin, append([]string{"serve", "--demo", "--data", data, "--sip-listen", "127.0.0.1:0"}, args...)...).CombinedOutput()
		require.Error(t, err, "%v: %s", args, out)
		require.Contains(t, string(out), "--demo-public", "%v", args)
		require.Contains(t, string(out), args[0]+" "+args[1], "%v", args)
	}

	// A demo run: its users may not call external numbers.
	var addr string
	serveUntil := func(t *testing.T, ready func(stdout, stderr string) bool, args ...string) string {
		t.Helper()
		addr = harness.FreeAddr(t)
		cmd := exec.Command(bin, append([]string{"serve", "--data", data, "--listen", addr, "--sip-listen", "127.0.0.1:0"}, args...)...)
		cmd.Env = append(os.Environ(), "SWITCHBOARD_ADMIN_KEY=")
		var stdout, stderr syncbuf.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Start())
		defer func() { _ = cmd.Process.Kill() }()
		exited := make(chan struct{})
		var waitErr error
		go func() { waitErr = cmd.Wait(); close(exited) }()
		waitFor(t, 30*time.Second, func() string { return "the server to be up; its log:\n" + stderr.String() }, func() bool {
			select {
			case <-exited:
				t.Fatalf("the server exited early:\n%s", stderr.String())
			default:
			}
			return ready(stdout.String(), stderr.String())
		})
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		<-exited
		require.NoError(t, waitErr, stderr.String())
		return stderr.String()
	}
	var users string
	serveUntil(t, func(stdout, _ string) bool {
		if strings.Count(stdout, "token: ") < 3 {
			return false
		}
		r := rest.Do(t, "GET", "http://"+addr+"/v1/users", regexp.MustCompile(`sbk_\S+`).FindString(stdout), nil)
		require.Equal(t, 200, r.Status, string(r.Raw))
		users = string(r.Raw)
		return true
	}, "--demo")
	require.Equal(t, 3, strings.Count(users, `"can_call_external":false`), users)

	// A normal start on that data directory warns, once.
	logs := serveUntil(t, func(_, stderr string) bool {
		return strings.Contains(stderr, "switchboard listening") && strings.Contains(stderr, "DEMO USERS PRESENT")
	})
	require.Equal(t, 1, strings.Count(logs, "DEMO USERS PRESENT"), logs)
	require.Contains(t, logs, "alice/101 bob/102 carol/103")
	require.Contains(t, logs, "level=WARN")

	// A fresh data directory does not.
	data = t.TempDir()
	logs = serveUntil(t, func(_, stderr string) bool { return strings.Contains(stderr, "switchboard listening") })
	require.NotContains(t, logs, "DEMO USERS")
}
