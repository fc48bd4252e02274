package harness

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/test/rest"
	"github.com/switchboard-voice/switchboard/test/syncbuf"
)

// Process is a switchboard binary built from this tree, running as its own
// process (for what only a process shows: signals, exit codes).
type Process struct {
	Addr   string // the HTTP listener, host:port
	cmd    *exec.Cmd
	out    *syncbuf.Buffer
	exited chan struct{}
	err    error // the exit error, once exited is closed
}

// BuildBinary builds cmd/switchboard into a temporary directory.
func BuildBinary(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(t.TempDir(), "switchboard")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/switchboard")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// StartProcess runs `bin serve --demo` on loopback with the YAML config
// extra (appended to the listen/data settings) and the admin key AdminKey.
// It returns once /healthz answers; the process is killed when the test
// ends if it is still running.
func StartProcess(t testing.TB, bin, extra string) *Process {
	t.Helper()
	return StartProcessIn(t, bin, filepath.Join(t.TempDir(), "data"), extra)
}

// StartProcessIn is StartProcess on the given data directory: a second
// process on the first one's directory is a restart (the master key file
// beside it is reused too).
func StartProcessIn(t testing.TB, bin, dataDir, extra string) *Process {
	t.Helper()
	dir := t.TempDir()
	// Port 0, and the address read from the server's log line: a port
	// picked here and bound later could be taken by then.
	cfg := fmt.Sprintf("listen: 127.0.0.1:0\nsip_listen: 127.0.0.1:0\ndata_dir: %s\nmedia:\n  include_loopback: true\n%s",
		dataDir, extra)
	cfgFile := filepath.Join(dir, "switchboard.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(cfg), 0o600))
	p := &Process{out: &syncbuf.Buffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--demo", "--config", cfgFile)
	p.cmd.Env = append(os.Environ(), "SWITCHBOARD_ADMIN_KEY="+AdminKey)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	require.NoError(t, p.cmd.Start())
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		if p.Running() {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("server output:\n%s", p.Output())
		}
	})
	listening := regexp.MustCompile(`msg="switchboard listening" addr=(\S+)`)
	CheckFor(t, 20*time.Second, func() error {
		if !p.Running() {
			return fmt.Errorf("the server exited: %v\n%s", p.err, p.Output())
		}
		m := listening.FindStringSubmatch(p.Output())
		if m == nil {
			return fmt.Errorf("not listening yet")
		}
		p.Addr = m[1]
		res, err := http.Get("http://" + p.Addr + "/healthz")
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			return fmt.Errorf("healthz %d", res.StatusCode)
		}
		return nil
	})
	return p
}

// URL is the process's HTTP base URL; WebSocketURL its signalling URL.
func (p *Process) URL() string          { return "http://" + p.Addr }
func (p *Process) WebSocketURL() string { return "ws://" + p.Addr + "/v1/webrtc" }

// Signal sends SIGTERM.
func (p *Process) Signal(t testing.TB) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
}

// Kill sends SIGKILL (a crash: nothing is flushed or closed) and waits
// for the process to be gone.
func (p *Process) Kill(t testing.TB) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not die on SIGKILL")
	}
}

// Get decodes the JSON answer to GET path with the admin key, which must
// be 200.
func (p *Process) Get(t testing.TB, path string, out any) {
	t.Helper()
	p.rest(t, "GET", path, "", 200, out)
}

// Running reports whether the process has not exited.
func (p *Process) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// WaitExit waits up to d for the process to exit and returns its error
// (nil for exit status 0).
func (p *Process) WaitExit(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(d):
		t.Fatalf("the server did not exit within %s:\n%s", d, p.Output())
		return nil
	}
}

// Output is what the process wrote to stdout and stderr so far.
func (p *Process) Output() string { return p.out.String() }

// Token mints a token for the user with extension ext through the REST
// API (GET /v1/users, POST /v1/user_sessions). A demo server creates its
// users just after it starts listening, so the user is waited for.
func (p *Process) Token(t testing.TB, ext string) string {
	t.Helper()
	var id string
	CheckFor(t, 10*time.Second, func() error {
		var users struct {
			Data []struct {
				ID        string `json:"id"`
				Extension string `json:"extension"`
			} `json:"data"`
		}
		p.rest(t, "GET", "/v1/users", "", 200, &users)
		for _, u := range users.Data {
			if u.Extension == ext {
				id = u.ID
				return nil
			}
		}
		return fmt.Errorf("no user with extension %s", ext)
	})
	var session struct {
		ClientSecret string `json:"client_secret"`
	}
	p.rest(t, "POST", "/v1/user_sessions", `{"user":"`+id+`"}`, 201, &session)
	return session.ClientSecret
}

func (p *Process) rest(t testing.TB, method, path, body string, status int, out any) {
	t.Helper()
	r := rest.Do(t, method, p.URL()+path, AdminKey, body)
	require.Equal(t, status, r.Status, string(r.Raw))
	require.NoError(t, json.Unmarshal(r.Raw, out))
}
