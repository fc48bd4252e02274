package harness

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchboard-voice/switchboard/test/syncbuf"
)

// NATS is a nats-server with JetStream, run for one test.
type NATS struct {
	URL    string // nats://127.0.0.1:PORT
	cmd    *exec.Cmd
	out    *syncbuf.Buffer
	exited chan struct{}
}

// NATSBinary is the nats-server to run: on PATH, else Debian's
// /usr/sbin/nats-server; "" when neither is there.
func NATSBinary() string {
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	if p, err := exec.LookPath("/usr/sbin/nats-server"); err == nil {
		return p
	}
	return ""
}

// StartNATS runs nats-server with JetStream on a free loopback port and a
// temporary store directory, waits until it takes connections, and stops
// it when the test ends. It skips the test when nats-server is not
// installed (Debian: apt-get install nats-server).
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	bin := NATSBinary()
	if bin == "" {
		t.Skip("nats-server is not installed (apt-get install nats-server): cluster tests need it")
	}
	port := FreePort(t, "tcp", "127.0.0.1")
	n := &NATS{URL: "nats://127.0.0.1:" + strconv.Itoa(port), out: &syncbuf.Buffer{}, exited: make(chan struct{})}
	n.cmd = exec.Command(bin, "-js", "-sd", t.TempDir(), "-a", "127.0.0.1", "-p", strconv.Itoa(port),
		"-n", "sb-test-"+strconv.Itoa(port))
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	go func() { _ = n.cmd.Wait(); close(n.exited) }()
	t.Cleanup(func() {
		n.Stop()
		if t.Failed() {
			t.Logf("nats-server output:\n%s", n.out.String())
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	CheckFor(t, 10*time.Second, func() error {
		select {
		case <-n.exited:
			return fmt.Errorf("nats-server exited:\n%s", n.out.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
	return n
}

// Stop kills the server and waits for it to be gone (idempotent).
func (n *NATS) Stop() {
	select {
	case <-n.exited:
		return
	default:
	}
	_ = n.cmd.Process.Kill()
	<-n.exited
}

// WaitUnsubscribed waits until nobody listens on subject any more: a
// request there gets nats-server's "no responders" at once. After a
// client is killed the server drops its subscriptions a moment later; a
// test that needs the drop done waits here.
func (n *NATS) WaitUnsubscribed(t testing.TB, subject string) {
	t.Helper()
	nc, err := nats.Connect(n.URL)
	if err != nil {
		t.Fatalf("nats connect: %v", err)
	}
	defer nc.Close()
	CheckFor(t, 10*time.Second, func() error {
		_, err := nc.Request(subject, nil, 200*time.Millisecond)
		if errors.Is(err, nats.ErrNoResponders) {
			return nil
		}
		return fmt.Errorf("%s: still answered (%v)", subject, err)
	})
}
