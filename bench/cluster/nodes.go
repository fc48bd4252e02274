package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/switchboard-voice/switchboard/bench/internal/setup"
)

const adminKey = "bench-admin-key"

// natsServer is a nats-server with JetStream in a temporary directory.
type natsServer struct {
	url string
	cmd *exec.Cmd
}

// startNATS runs Debian's nats-server (on PATH or /usr/sbin) with
// JetStream on a free loopback port, as test/harness does.
func startNATS(dir string) (*natsServer, error) {
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/nats-server"); err != nil {
			return nil, errors.New("nats-server is not installed (apt-get install nats-server)")
		}
	}
	addr, err := freeAddr("tcp")
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "-js", "-sd", dir, "-a", "127.0.0.1", "-p", port, "-n", "sb-bench-"+port)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &natsServer{url: "nats://" + addr, cmd: cmd}
	for i := 0; i < 100; i++ {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return n, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	n.stop()
	return nil, errors.New("nats-server did not take connections")
}

func (n *natsServer) stop() { _ = n.cmd.Process.Kill(); _ = n.cmd.Wait() }

// freeAddr picks a free loopback port for network ("tcp" or "udp").
func freeAddr(network string) (string, error) {
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		defer pc.Close()
		return pc.LocalAddr().String(), nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// node is one switchboard process.
type node struct {
	id   string
	base string
	cmd  *exec.Cmd
	log  *bytes.Buffer // stderr (warnings and errors), read once it has exited
}

// startNode runs bin on dataDir with benchConfig plus extra, and waits
// until /healthz answers.
func startNode(bin, dataDir, id, extra string) (*node, error) {
	addr, err := freeAddr("tcp")
	if err != nil {
		return nil, err
	}
	sipAddr, err := freeAddr("udp")
	if err != nil {
		return nil, err
	}
	cfg := dataDir + ".yaml"
	if err := os.WriteFile(cfg, []byte(setup.Config+"data_dir: "+dataDir+"\n"+extra), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--listen", addr, "--sip-listen", sipAddr, "--config", cfg)
	cmd.Env = append(os.Environ(), "SWITCHBOARD_ADMIN_KEY="+adminKey)
	n := &node{id: id, base: "http://" + addr, cmd: cmd, log: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = io.Discard, n.log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if setup.WaitHealthy(n.base, 200) {
		return n, nil
	}
	n.stop()
	return nil, fmt.Errorf("node %s did not become healthy:\n%s", id, n.log)
}

func (n *node) pid() int      { return n.cmd.Process.Pid }
func (n *node) wsURL() string { return "ws" + n.base[len("http"):] + "/v1/webrtc" }

// stop sends SIGTERM and waits up to 10 s, then kills.
func (n *node) stop() {
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Kill()
		<-done
	}
}

// do sends a request with the admin key and decodes a 2xx answer into out.
func (n *node) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, n.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s on %s: %d %s", method, path, n.id, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// token mints a session token for user on this node.
func (n *node) token(user string) (string, error) {
	var sess struct {
		Secret string `json:"client_secret"`
	}
	err := n.do("POST", "/v1/user_sessions", map[string]any{"user": user}, &sess)
	return sess.Secret, err
}

// seed makes a data directory with users users (extensions 5000…) and
// returns their ids: the nodes run on copies of it, so that user ids and
// the token signing key are the same everywhere (the e2e tests'
// seedDataDir; a real cluster shares one Postgres instead).
func seed(bin, dir string, users int) (string, []string, error) {
	data := filepath.Join(dir, "seed")
	n, err := startNode(bin, data, "seed", "")
	if err != nil {
		return "", nil, err
	}
	defer n.stop()
	ids := make([]string, users)
	for i := range ids {
		ext := strconv.Itoa(5000 + i)
		var u struct {
			ID string `json:"id"`
		}
		if err := n.do("POST", "/v1/users", map[string]any{"name": "bench" + ext, "extension": ext}, &u); err != nil {
			return "", nil, err
		}
		ids[i] = u.ID
	}
	return data, ids, nil
}

// copyData copies the seeded data directory and its master key to dst.
func copyData(seedDir, dst string) error {
	if err := os.CopyFS(dst, os.DirFS(seedDir)); err != nil {
		return err
	}
	key, err := os.ReadFile(seedDir + ".master.key")
	if err != nil {
		return err
	}
	return os.WriteFile(dst+".master.key", key, 0o600)
}

// startCluster starts a nats-server and size nodes n1…nN on copies of
// seedDir, and waits until every node sees them all.
func startCluster(bin, dir, seedDir string, size int) (*natsServer, []*node, error) {
	ns, err := startNATS(filepath.Join(dir, "nats"))
	if err != nil {
		return nil, nil, err
	}
	var nodes []*node
	fail := func(err error) (*natsServer, []*node, error) {
		stopAll(ns, nodes)
		return nil, nil, err
	}
	for i := 1; i <= size; i++ {
		id := "n" + strconv.Itoa(i)
		data := filepath.Join(dir, id)
		if err := copyData(seedDir, data); err != nil {
			return fail(err)
		}
		conf := fmt.Sprintf("cluster:\n  nats_url: %s\n  node_id: %s\n  heartbeat: 1s\n", ns.url, id)
		n, err := startNode(bin, data, id, conf)
		if err != nil {
			return fail(err)
		}
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		if err := waitFor(15*time.Second, func() error { return seesAll(n, size) }); err != nil {
			return fail(err)
		}
	}
	return ns, nodes, nil
}

func seesAll(n *node, size int) error {
	var res struct {
		Data []struct {
			Node      string `json:"node"`
			Reachable bool   `json:"reachable"`
		} `json:"data"`
	}
	if err := n.do("GET", "/v1/cluster/nodes", nil, &res); err != nil {
		return err
	}
	reachable := 0
	for _, s := range res.Data {
		if s.Reachable || s.Node == n.id {
			reachable++
		}
	}
	if reachable != size {
		return fmt.Errorf("%s sees %+v", n.id, res.Data)
	}
	return nil
}

// located reports whether from sees a WebRTC device of user.
func located(from *node, user string) error {
	var res struct {
		Data []struct {
			Node string `json:"node"`
		} `json:"data"`
	}
	if err := from.do("GET", "/v1/cluster/locations/"+user, nil, &res); err != nil {
		return err
	}
	if len(res.Data) == 0 {
		return fmt.Errorf("%s does not see user %s yet", from.id, user)
	}
	return nil
}

func stopAll(ns *natsServer, nodes []*node) {
	for _, n := range nodes {
		n.stop()
	}
	ns.stop()
}

// waitFor polls f every 50 ms until it returns nil or d has passed.
func waitFor(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
