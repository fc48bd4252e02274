package harness

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Baresip is a real SIP desk phone (Debian's baresip) run headless.
type Baresip struct {
	Dir     string
	SIPAddr string // where the phone listens for SIP
	cmd     *exec.Cmd
	out     *lockedBuffer
}

// BaresipOptions configure a phone.
type BaresipOptions struct {
	User, Password string
	Registrar      string // host:port of Switchboard's SIP listener
	ToneHz         int    // what the phone sends (ausine); 0 sends silence
}

// StartBaresip runs a baresip phone registering to o.Registrar. It is
// stopped when the test ends.
func StartBaresip(t testing.TB, o BaresipOptions) *Baresip {
	t.Helper()
	if _, err := exec.LookPath("baresip"); err != nil {
		t.Fatalf("baresip is not installed (make deps installs baresip-core): %v", err)
	}
	dir := t.TempDir()
	sipPort := freeUDPPort(t)
	ctrl := freeTCPPort(t)
	source := "ausine,440"
	if o.ToneHz > 0 {
		source = fmt.Sprintf("ausine,%d", o.ToneHz)
	}
	conf := strings.Join([]string{
		"poll_method epoll",
		fmt.Sprintf("sip_listen 127.0.0.1:%d", sipPort),
		"net_interface 127.0.0.1",
		"audio_player aufile," + filepath.Join(dir, "heard.wav"),
		"audio_source " + source,
		"ausrc_srate 48000",
		"ausrc_channels 2",
		"module_path /usr/lib/baresip/modules",
		"module g711.so",
		"module ausine.so",
		"module aufile.so",
		"module_tmp account.so",
		"module_app ctrl_tcp.so",
		fmt.Sprintf("ctrl_tcp_listen 127.0.0.1:%d", ctrl),
		"",
	}, "\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config"), []byte(conf), 0o600))
	account := fmt.Sprintf("<sip:%s@%s>;auth_pass=%s;regint=60;answermode=auto;audio_codecs=pcmu\n",
		o.User, o.Registrar, o.Password)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "accounts"), []byte(account), 0o600))
	b := &Baresip{Dir: dir, SIPAddr: fmt.Sprintf("127.0.0.1:%d", sipPort), out: &lockedBuffer{}}
	b.cmd = exec.Command("baresip", "-f", dir)
	b.cmd.Stdin = nil
	b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
	b.cmd.Env = append(os.Environ(), "HOME="+dir)
	require.NoError(t, b.cmd.Start())
	t.Cleanup(func() {
		_ = b.cmd.Process.Kill()
		_ = b.cmd.Wait()
		if t.Failed() {
			t.Logf("baresip output:\n%s", b.out.String())
		}
	})
	return b
}

// Output returns what baresip printed so far.
func (b *Baresip) Output() string { return b.out.String() }

func freeUDPPort(t testing.TB) int {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func freeTCPPort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
