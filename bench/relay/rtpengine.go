package main

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The rtpengine mode measures Sipwise rtpengine (Debian's rtpengine-daemon,
// `make bench-deps`) relaying the same calls in userspace (no kernel
// module: --table=-1), driven over its NG control protocol as a SIP proxy
// would drive it: an offer with the caller's SDP, an answer with the
// callee's, and each phone sends to the port rtpengine put in the SDP
// handed to it.

// haveRTPEngine says whether the rtpengine binary is installed.
func haveRTPEngine() bool {
	_, err := exec.LookPath("rtpengine")
	return err == nil
}

// startRTPEngine runs rtpengine in the foreground, pinned like our relay,
// and returns its command and NG address.
func startRTPEngine(p pin) (*exec.Cmd, *net.UDPAddr, error) {
	ng, err := freeUDPPort()
	if err != nil {
		return nil, nil, err
	}
	lo := 30000 + 2*rand.IntN(5000)
	args := []string{"rtpengine", "--config-file=none", "--foreground", "--log-stderr", "--log-level=3", "--table=-1",
		"--interface=127.0.0.1", "--listen-ng=127.0.0.1:" + strconv.Itoa(ng),
		"--port-min=" + strconv.Itoa(lo), "--port-max=" + strconv.Itoa(lo+9999)}
	if p.relay != "" {
		args = append([]string{"taskset", "-c", p.relay}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	addr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ng}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := ngCommand(addr, map[string]any{"command": "ping"}); err == nil {
			return cmd, addr, nil
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil, nil, errors.New("rtpengine did not answer ping")
}

func freeUDPPort() (int, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// measureRTPEngine is measure for rtpengine: the generator's sockets are
// made first, their ports go into the SDP of each call's offer and answer.
func measureRTPEngine(n int, d time.Duration, p pin) (result, error) {
	if p.relay != "" {
		if err := setAffinity(p.gen); err != nil {
			return result{}, err
		}
	}
	cmd, ng, err := startRTPEngine(p)
	if err != nil {
		return result{}, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	g := &generator{}
	defer g.close()
	for i := range n {
		a, b, err := g.pair()
		if err != nil {
			return result{}, err
		}
		callID := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i)
		toB, err := ngCommand(ng, map[string]any{"command": "offer", "call-id": callID, "from-tag": "a", "sdp": phoneSDP(a)})
		if err != nil {
			return result{}, fmt.Errorf("offer: %w", err)
		}
		toA, err := ngCommand(ng, map[string]any{"command": "answer", "call-id": callID, "from-tag": "a", "to-tag": "b",
			"sdp": phoneSDP(b)})
		if err != nil {
			return result{}, fmt.Errorf("answer: %w", err)
		}
		pa, errA := sdpPort(toA["sdp"])
		pb, errB := sdpPort(toB["sdp"])
		if err := errors.Join(errA, errB); err != nil {
			return result{}, err
		}
		lo := netip.MustParseAddr("127.0.0.1")
		g.targets = append(g.targets, netip.AddrPortFrom(lo, pa), netip.AddrPortFrom(lo, pb))
	}
	return g.drive("rtpengine", n, d, cmd.Process.Pid)
}

// pair makes one call's two phone sockets (their targets are set by the
// caller) and returns their ports.
func (g *generator) pair() (uint16, uint16, error) {
	var ports [2]uint16
	for i := range ports {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return 0, 0, err
		}
		_ = c.SetReadBuffer(1 << 20)
		g.conns = append(g.conns, c)
		ports[i] = port(c)
	}
	return ports[0], ports[1], nil
}

func phoneSDP(port uint16) string {
	return fmt.Sprintf("v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n", port)
}

var mAudio = regexp.MustCompile(`(?m)^m=audio (\d+) `)

// sdpPort is the audio port of an SDP that rtpengine returned.
func sdpPort(v any) (uint16, error) {
	s, _ := v.(string)
	m := mAudio.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("no m=audio in rtpengine's SDP %q", s)
	}
	p, err := strconv.ParseUint(m[1], 10, 16)
	return uint16(p), err
}

// ngCommand sends one NG request (a cookie and a bencoded dictionary) and
// returns the reply's dictionary; a result other than ok or pong is an
// error.
func ngCommand(addr *net.UDPAddr, req map[string]any) (map[string]any, error) {
	c, err := net.DialUDP("udp4", nil, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	cookie := strconv.FormatUint(rand.Uint64(), 36)
	var b bytes.Buffer
	b.WriteString(cookie + " ")
	bencode(&b, req)
	if _, err := c.Write(b.Bytes()); err != nil {
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		return nil, err
	}
	rest, ok := bytes.CutPrefix(buf[:n], []byte(cookie+" "))
	if !ok {
		return nil, errors.New("ng: reply to another request")
	}
	v, _, err := bdecode(rest)
	if err != nil {
		return nil, err
	}
	d, _ := v.(map[string]any)
	if r := d["result"]; r != "ok" && r != "pong" {
		return nil, fmt.Errorf("ng: %v: %v", r, d["error-reason"])
	}
	return d, nil
}

// bencode writes v (string, int, []any or map[string]any).
func bencode(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case string:
		fmt.Fprintf(b, "%d:%s", len(x), x)
	case int:
		fmt.Fprintf(b, "i%de", x)
	case []any:
		b.WriteByte('l')
		for _, e := range x {
			bencode(b, e)
		}
		b.WriteByte('e')
	case map[string]any:
		b.WriteByte('d')
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			bencode(b, k)
			bencode(b, x[k])
		}
		b.WriteByte('e')
	}
}

// bdecode reads one value from p and returns the rest.
func bdecode(p []byte) (any, []byte, error) {
	if len(p) == 0 {
		return nil, nil, errors.New("bencode: short")
	}
	switch c := p[0]; {
	case c == 'i':
		end := bytes.IndexByte(p, 'e')
		if end < 0 {
			return nil, nil, errors.New("bencode: open integer")
		}
		n, err := strconv.Atoi(string(p[1:end]))
		return n, p[end+1:], err
	case c == 'l' || c == 'd':
		p = p[1:]
		var list []any
		for len(p) > 0 && p[0] != 'e' {
			var v any
			var err error
			if v, p, err = bdecode(p); err != nil {
				return nil, nil, err
			}
			list = append(list, v)
		}
		if len(p) == 0 {
			return nil, nil, errors.New("bencode: open container")
		}
		if c == 'l' {
			return list, p[1:], nil
		}
		d := map[string]any{}
		for i := 0; i+1 < len(list); i += 2 {
			k, _ := list[i].(string)
			d[k] = list[i+1]
		}
		return d, p[1:], nil
	case c >= '0' && c <= '9':
		colon := bytes.IndexByte(p, ':')
		if colon < 0 {
			return nil, nil, errors.New("bencode: string without length")
		}
		n, err := strconv.Atoi(string(p[:colon]))
		if err != nil || n < 0 || colon+1+n > len(p) {
			return nil, nil, errors.New("bencode: bad string length")
		}
		return string(p[colon+1 : colon+1+n]), p[colon+1+n:], nil
	}
	return nil, nil, fmt.Errorf("bencode: unexpected %q", strings.TrimSpace(string(p[:1])))
}
