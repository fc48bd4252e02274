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
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
)

// Baresip is a real SIP desk phone (Debian's baresip) run headless.
type Baresip struct {
	Dir     string
	SIPAddr string // where the phone listens for SIP
	Ctrl    string // ctrl_tcp address
	cmd     *exec.Cmd
	out     *lockedBuffer
}

// BaresipOptions configure a phone.
type BaresipOptions struct {
	User, Password string
	Registrar      string // host:port of Switchboard's SIP listener
	ToneHz         int    // what the phone sends (ausine); 0 sends 440 Hz
	Manual         bool   // ring instead of answering by itself
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
		"audio_player alsa,null",
		"snd_path " + dir,
		"audio_source " + source,
		"ausrc_srate 48000",
		"ausrc_channels 2",
		"module_path /usr/lib/baresip/modules",
		"module g711.so",
		"module ausine.so",
		"module alsa.so",
		"module sndfile.so",
		"module_tmp account.so",
		"module_app menu.so",
		"module_app ctrl_tcp.so",
		fmt.Sprintf("ctrl_tcp_listen 127.0.0.1:%d", ctrl),
		"",
	}, "\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config"), []byte(conf), 0o600))
	mode := "auto"
	if o.Manual {
		mode = "manual"
	}
	account := fmt.Sprintf("<sip:%s@%s>;auth_pass=%s;regint=60;answermode=%s;audio_codecs=pcmu\n",
		o.User, o.Registrar, o.Password, mode)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "accounts"), []byte(account), 0o600))
	b := &Baresip{Dir: dir, SIPAddr: fmt.Sprintf("127.0.0.1:%d", sipPort), Ctrl: fmt.Sprintf("127.0.0.1:%d", ctrl),
		out: &lockedBuffer{}}
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

// Command sends a ctrl_tcp command (netstring-framed JSON) and returns
// without waiting for baresip's answer.
func (b *Baresip) Command(t testing.TB, command, params string) {
	t.Helper()
	var conn net.Conn
	CheckFor(t, 5*time.Second, func() (err error) {
		conn, err = net.Dial("tcp", b.Ctrl)
		return err
	})
	defer conn.Close()
	j := fmt.Sprintf(`{"command":%q,"params":%q,"token":"t"}`, command, params)
	_, err := fmt.Fprintf(conn, "%d:%s,", len(j), j)
	require.NoError(t, err)
	buf := make([]byte, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _ = conn.Read(buf) // the response; events are in Output
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

// HeardTone checks that the phone heard freq over the last second of its
// recording (polling: sndfile finishes the file when the call closes).
func (b *Baresip) HeardTone(t testing.TB, freq float64) {
	t.Helper()
	CheckFor(t, 10*time.Second, func() error {
		files, _ := filepath.Glob(filepath.Join(b.Dir, "*dec*.wav"))
		if len(files) == 0 {
			return fmt.Errorf("baresip recorded nothing")
		}
		src, err := audio.LoadWAV(files[len(files)-1], 8000)
		if err != nil {
			return err
		}
		pcm := make([]int16, 8000)
		src.Read(pcm)
		d := audio.NewDetector(8000, time.Second)
		d.Write(pcm)
		if l := d.Level(freq); l < 0.5 {
			return fmt.Errorf("phone heard %.0f Hz at level %.2f (dominant %.0f Hz, rms %.3f)", freq, l, d.Dominant(100, 3500), d.RMS())
		}
		return nil
	})
}
