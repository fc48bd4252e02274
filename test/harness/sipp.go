package harness

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/test/syncbuf"
)

// Sipp is a running sipp (Debian's sip-tester) scenario: a SIP trunk or
// carrier in trunk tests.
type Sipp struct {
	// Addr is where sipp takes SIP (host:port).
	Addr string
	// IP and Port are Addr's parts.
	IP   string
	Port int

	dir  string
	cmd  *exec.Cmd
	out  *syncbuf.Buffer
	done chan struct{}
	code int
}

// SippOptions configure a sipp run.
type SippOptions struct {
	// Scenario is a file in testdata/sipp (like "uas_answer.xml").
	Scenario string
	// Remote is the address a client scenario calls; empty for servers.
	Remote string
	// Service is the Request-URI user a client scenario calls (-s).
	Service string
	// IP is the address sipp binds (default 127.0.0.1); any 127.x.y.z
	// works on Linux, which lets a test be "another host".
	IP string
	// TCP runs the scenario over TCP (default UDP).
	TCP bool
	// RTPEcho sends every RTP packet received back to its sender.
	RTPEcho bool
	// TonePCAP writes tone.pcap (PCMU RTP, ToneHz, 4 s) beside the
	// scenario, for <exec play_pcap_audio="tone.pcap"/>.
	ToneHz float64
	// ToneFor is tone.pcap's length (default 4 s).
	ToneFor time.Duration
	// Keys are -key name value pairs, used as [name] in the scenario.
	Keys map[string]string
	// Timeout ends sipp (as a failure) after this long; default 30 s.
	Timeout time.Duration
	// Args are more sipp arguments (e.g. -au/-ap for [authentication]).
	Args []string
}

// scenarioDir is testdata/sipp at the repository root.
func scenarioDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "sipp")
}

// StartSipp runs one call of a sipp scenario. It is killed when the test
// ends; Wait gives its exit code (0: the scenario completed).
func StartSipp(t testing.TB, o SippOptions) *Sipp {
	t.Helper()
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Fatalf("sipp is not installed (make deps installs sip-tester): %v", err)
	}
	if o.IP == "" {
		o.IP = "127.0.0.1"
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	dir := t.TempDir()
	scenario, err := os.ReadFile(filepath.Join(scenarioDir(), o.Scenario))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, o.Scenario), scenario, 0o600))
	if o.ToneHz > 0 {
		if o.ToneFor <= 0 {
			o.ToneFor = 4 * time.Second
		}
		require.NoError(t, WriteTonePCAP(filepath.Join(dir, "tone.pcap"), o.ToneHz, o.ToneFor))
	}
	network, transport := "udp", "u1"
	if o.TCP {
		network, transport = "udp+tcp", "t1"
	}
	port := FreePort(t, network, o.IP)
	media := freeMediaPort(t, o.IP)
	args := []string{"-sf", o.Scenario, "-i", o.IP, "-p", strconv.Itoa(port), "-mi", o.IP, "-mp", strconv.Itoa(media),
		"-t", transport, "-m", "1", "-timeout", fmt.Sprintf("%ds", int(o.Timeout.Seconds())), "-timeout_error",
		"-nostdin", "-trace_msg", "-message_file", filepath.Join(dir, "messages.log"),
		"-trace_err", "-error_file", filepath.Join(dir, "errors.log")}
	if o.Service != "" {
		args = append(args, "-s", o.Service)
	}
	if o.RTPEcho {
		args = append(args, "-rtp_echo")
	}
	for k, v := range o.Keys {
		args = append(args, "-key", k, v)
	}
	args = append(args, o.Args...)
	if o.Remote != "" {
		args = append(args, o.Remote)
	}
	s := &Sipp{Addr: net.JoinHostPort(o.IP, strconv.Itoa(port)), IP: o.IP, Port: port, dir: dir,
		out: &syncbuf.Buffer{}, done: make(chan struct{}), code: -1}
	s.cmd = exec.Command("sipp", args...)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.Env = append(os.Environ(), "TERM=dumb")
	require.NoError(t, s.cmd.Start())
	go func() {
		err := s.cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
			s.code = 0
		case errors.As(err, &ee):
			s.code = ee.ExitCode()
		}
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("sipp %s exited %d; messages:\n%s\nerrors:\n%s", o.Scenario, s.code, s.Messages(), s.Errors())
		}
	})
	return s
}

// Wait waits up to d for sipp to exit and returns its exit code.
func (s *Sipp) Wait(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
		return s.code
	case <-time.After(d):
		t.Fatalf("sipp still running after %s; messages so far:\n%s", d, s.Messages())
		return -1
	}
}

// RequireSuccess waits for sipp and requires its scenario completed.
func (s *Sipp) RequireSuccess(t testing.TB) {
	t.Helper()
	if code := s.Wait(t, 40*time.Second); code != 0 {
		t.Fatalf("sipp exited %d\noutput:\n%s\nerrors:\n%s\nmessages:\n%s", code, s.out.String(), s.Errors(), s.Messages())
	}
}

// Messages is sipp's log of the SIP messages it sent and received.
func (s *Sipp) Messages() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "messages.log"))
	return string(b)
}

// Errors is sipp's error log.
func (s *Sipp) Errors() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "errors.log"))
	return string(b)
}

// freeMediaPort finds an even UDP port whose next three ports are free
// too (sipp takes audio and video RTP and RTCP ports from -mp). sipp binds
// them only when the call starts, so they come from 21000–32000: below the
// kernel's ephemeral range (32768+), where another test's socket could
// take them meanwhile, and above the server's media range (10000–20000).
func freeMediaPort(t testing.TB, ip string) int {
	t.Helper()
	for range 200 {
		port := 21000 + 2*rand.IntN(5500)
		ok := true
		for i := range 4 {
			c, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(port+i)))
			if err != nil {
				ok = false
				break
			}
			c.Close()
		}
		if ok && port > 1024 {
			return port
		}
	}
	t.Fatal("no free media ports for sipp")
	return 0
}

// WriteTonePCAP writes a pcap of 20 ms PCMU RTP packets carrying a tone
// at freq for d, for sipp's play_pcap_audio (which takes the payloads and
// their timing; the addresses in the file do not matter).
func WriteTonePCAP(path string, freq float64, d time.Duration) error {
	enc, err := audio.NewEncoder(audio.PCMU, 8000)
	if err != nil {
		return err
	}
	src := audio.NewTone(freq, 8000, 0.3)
	var b strings.Builder
	le := binary.LittleEndian
	hdr := make([]byte, 24)
	le.PutUint32(hdr[0:], 0xa1b2c3d4) // pcap magic, microseconds
	le.PutUint16(hdr[4:], 2)
	le.PutUint16(hdr[6:], 4)
	le.PutUint32(hdr[16:], 65535)
	le.PutUint32(hdr[20:], 1) // Ethernet
	b.Write(hdr)
	pcm := make([]int16, 160)
	for i := range int(d / (20 * time.Millisecond)) {
		src.Read(pcm)
		payload, err := enc.Encode(pcm)
		if err != nil {
			return err
		}
		rtp := make([]byte, 12, 12+len(payload))
		rtp[0] = 0x80
		binary.BigEndian.PutUint16(rtp[2:], uint16(i))
		binary.BigEndian.PutUint32(rtp[4:], uint32(i*160))
		binary.BigEndian.PutUint32(rtp[8:], 0x5eed)
		rtp = append(rtp, payload...)
		udp := make([]byte, 8, 8+len(rtp))
		binary.BigEndian.PutUint16(udp[0:], 40000)
		binary.BigEndian.PutUint16(udp[2:], 40002)
		binary.BigEndian.PutUint16(udp[4:], uint16(8+len(rtp)))
		udp = append(udp, rtp...)
		ip := make([]byte, 20, 20+len(udp))
		ip[0], ip[8], ip[9] = 0x45, 64, 17
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(udp)))
		copy(ip[12:], []byte{10, 0, 0, 1})
		copy(ip[16:], []byte{10, 0, 0, 2})
		binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip))
		ip = append(ip, udp...)
		eth := make([]byte, 14, 14+len(ip))
		eth[12], eth[13] = 0x08, 0x00
		eth = append(eth, ip...)
		rec := make([]byte, 16)
		us := i * 20000
		le.PutUint32(rec[0:], uint32(1_700_000_000+us/1_000_000))
		le.PutUint32(rec[4:], uint32(us%1_000_000))
		le.PutUint32(rec[8:], uint32(len(eth)))
		le.PutUint32(rec[12:], uint32(len(eth)))
		b.Write(rec)
		b.Write(eth)
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i < len(h); i += 2 {
		sum += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
