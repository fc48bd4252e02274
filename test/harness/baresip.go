package harness

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/test/syncbuf"
)

// Baresip is a real SIP desk phone (Debian's baresip) run headless.
type Baresip struct {
	Dir     string
	SIPAddr string // where the phone listens for SIP
	Ctrl    string // ctrl_tcp address
	cmd     *exec.Cmd
	out     *syncbuf.Buffer
}

// BaresipOptions configure a phone.
type BaresipOptions struct {
	User, Password string
	Registrar      string // host:port of Switchboard's SIP listener
	ToneHz         int    // what the phone sends (ausine); 0 sends 440 Hz
	Manual         bool   // ring instead of answering by itself
	// Transport is the account's transport to the registrar ("tls"); ""
	// leaves baresip's default (UDP).
	Transport string
	// CAFile is a certificate baresip trusts for SIP over TLS.
	CAFile string
	// MediaEnc is the account's media encryption ("srtp", "srtp-mand");
	// it loads the srtp module.
	MediaEnc string
	// NoRegister makes the phone only answer calls to User at its own
	// address (a carrier at the end of a trunk): no REGISTER is sent.
	NoRegister bool
}

// StartBaresip runs a baresip phone registering to o.Registrar. It is
// stopped when the test ends.
func StartBaresip(t testing.TB, o BaresipOptions) *Baresip {
	t.Helper()
	if _, err := exec.LookPath("baresip"); err != nil {
		t.Fatalf("baresip is not installed (make deps installs baresip-core): %v", err)
	}
	dir := t.TempDir()
	sipPort := FreePort(t, "udp+tcp", "127.0.0.1") // baresip listens on both
	ctrl := FreePort(t, "tcp", "127.0.0.1")
	source := "ausine,440"
	if o.ToneHz > 0 {
		source = fmt.Sprintf("ausine,%d", o.ToneHz)
	}
	conf := strings.Join([]string{
		"poll_method epoll",
		fmt.Sprintf("sip_listen 127.0.0.1:%d", sipPort),
		"net_interface 127.0.0.1",
		"rtp_ports 10000-20000", // apart from FreePort's range
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
	if o.CAFile != "" {
		conf += "sip_cafile " + o.CAFile + "\n"
	}
	if o.MediaEnc != "" {
		conf += "module srtp.so\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config"), []byte(conf), 0o600))
	mode := "auto"
	if o.Manual {
		mode = "manual"
	}
	uri, params := o.Registrar, ""
	if o.Transport != "" {
		uri += ";transport=" + o.Transport
	}
	if o.MediaEnc != "" {
		params = ";mediaenc=" + o.MediaEnc
	}
	regint := 60
	if o.NoRegister {
		regint = 0
	}
	account := fmt.Sprintf("<sip:%s@%s>;auth_pass=%s;regint=%d;answermode=%s;audio_codecs=pcmu%s\n",
		o.User, uri, o.Password, regint, mode, params)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "accounts"), []byte(account), 0o600))
	b := &Baresip{Dir: dir, SIPAddr: fmt.Sprintf("127.0.0.1:%d", sipPort), Ctrl: fmt.Sprintf("127.0.0.1:%d", ctrl),
		out: &syncbuf.Buffer{}}
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

// WaitPrinted waits until baresip has printed text, and fails the test
// with msg when it has not within 10 s.
func (b *Baresip) WaitPrinted(t testing.TB, text, msg string) {
	t.Helper()
	CheckFor(t, 10*time.Second, func() error {
		if !strings.Contains(b.Output(), text) {
			return errors.New(msg)
		}
		return nil
	})
}

// HeardTone checks that the phone heard freq over the last second of its
// recording (polling; the call may still be up).
func (b *Baresip) HeardTone(t testing.TB, freq float64) {
	t.Helper()
	CheckFor(t, 10*time.Second, func() error {
		d, err := b.lastHeard()
		if err != nil {
			return err
		}
		if l := d.Level(freq); l < 0.5 {
			return fmt.Errorf("phone heard %.0f Hz at level %.2f (dominant %.0f Hz, rms %.3f)", freq, l, d.Dominant(100, 3500), d.RMS())
		}
		return nil
	})
}

// HeardMusic checks that the phone's last second of recording is music on
// hold: sound that is not the tone notFreq.
func (b *Baresip) HeardMusic(t testing.TB, notFreq float64) {
	t.Helper()
	CheckFor(t, 10*time.Second, func() error {
		d, err := b.lastHeard()
		if err != nil {
			return err
		}
		if d.RMS() < 0.02 || d.Level(notFreq) > 0.1 {
			return fmt.Errorf("phone hears no music (rms %.3f, %.0f Hz level %.2f, dominant %.0f Hz)",
				d.RMS(), notFreq, d.Level(notFreq), d.Dominant(100, 3500))
		}
		return nil
	})
}

// lastHeard analyses the last second of the phone's latest decode dump at
// 8 kHz. The WAV may still be written to (its sizes not yet final): the
// samples are everything after the data chunk's header.
func (b *Baresip) lastHeard() (*audio.Detector, error) {
	files, _ := filepath.Glob(filepath.Join(b.Dir, "*dec*.wav"))
	if len(files) == 0 {
		return nil, fmt.Errorf("baresip recorded nothing")
	}
	data, err := os.ReadFile(files[len(files)-1])
	if err != nil {
		return nil, err
	}
	f, d := bytes.Index(data, []byte("fmt ")), bytes.Index(data, []byte("data"))
	if f < 0 || d < 0 || len(data) < f+24 || len(data) < d+8 {
		return nil, fmt.Errorf("baresip's recording has no WAV header yet")
	}
	channels := int(binary.LittleEndian.Uint16(data[f+10:]))
	rate := int(binary.LittleEndian.Uint32(data[f+12:]))
	if channels < 1 || rate < 8000 {
		return nil, fmt.Errorf("baresip's recording: %d channels at %d Hz", channels, rate)
	}
	raw := data[d+8:]
	frames := len(raw) / (2 * channels)
	if frames < rate {
		return nil, fmt.Errorf("baresip recorded %d samples, under a second", frames)
	}
	pcm := make([]int16, rate)
	for i := range pcm {
		off := (frames - rate + i) * 2 * channels // first channel of the last second
		pcm[i] = int16(binary.LittleEndian.Uint16(raw[off:]))
	}
	det := audio.NewDetector(8000, time.Second)
	det.Write(audio.Resample(pcm, rate, 8000))
	return det, nil
}

// dtmfLine is how baresip reports the end of a received RFC 4733 event.
var dtmfLine = regexp.MustCompile(`received event: '(.)' \(end=1\)`)

// ReceivedDTMF is the digits the phone reported receiving (RFC 4733
// events, one per event end), in order.
func (b *Baresip) ReceivedDTMF() string {
	var digits strings.Builder
	for _, m := range dtmfLine.FindAllStringSubmatch(b.Output(), -1) {
		digits.WriteString(m[1])
	}
	return digits.String()
}

// SendDTMF makes the phone send digits on its current call (the menu's
// sndcode command: RFC 4733 events when the call negotiated
// telephone-event).
func (b *Baresip) SendDTMF(t testing.TB, digits string) {
	t.Helper()
	b.Command(t, "sndcode", digits)
}
