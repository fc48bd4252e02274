// Package pgtest runs one throwaway PostgreSQL cluster per test process
// and hands each test a fresh database in it. The cluster starts on first
// use (on a free loopback port, with its own data and socket directory,
// never the system cluster on 5432) and stops when the test binary calls
// Stop from TestMain. Without PostgreSQL binaries, tests that ask for a
// database are skipped with a message saying how to install them.
//
// The binaries are looked for in $PGBIN, /usr/lib/postgresql/*/bin and
// PATH. initdb and postgres refuse to run as root, so as root the cluster
// runs as the "postgres" user (runuser).
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver "pgx"
)

// Ports the cluster may take: below the ephemeral range and clear of the
// ranges the e2e harness hands to peers.
const (
	minPort = 5500
	maxPort = 9900
)

// cluster is the running cluster of this process.
type cluster struct {
	base, data string
	port       int
	asUser     string // "" or the user the server runs as
	admin      *sql.DB
}

var (
	mu      sync.Mutex
	running *cluster
	failed  error // why the cluster cannot start (skips, or fails, every test)
	dbs     atomic.Int64
)

// DSN returns the connection string of a new, empty database for t, or
// skips t when PostgreSQL is not installed.
func DSN(t testing.TB) string {
	t.Helper()
	c, err := start()
	if errors.Is(err, errNoBinaries) {
		t.Skipf("PostgreSQL half skipped: %v (make test installs postgresql; or set PGBIN)", err)
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	return c.dsn(name)
}

// Available reports whether PostgreSQL binaries were found.
func Available() bool {
	_, err := binDir()
	return err == nil
}

// Stop stops the cluster, if one was started, and removes its files. Call
// it from TestMain after m.Run.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if running == nil {
		return
	}
	c := running
	running = nil
	_ = c.admin.Close()
	_ = c.pgCtl("-D", c.data, "-m", "immediate", "-w", "stop").Run()
	_ = os.RemoveAll(c.base)
}

func (c *cluster) dsn(db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable", c.port, db)
}

var errNoBinaries = errors.New("no PostgreSQL binaries (initdb, pg_ctl)")

// binDir finds the directory holding initdb and pg_ctl.
func binDir() (string, error) {
	var dirs []string
	if d := os.Getenv("PGBIN"); d != "" {
		dirs = append(dirs, d)
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(found))) // newest first (15 before 14; fine up to 99)
	dirs = append(dirs, found...)
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if fileExists(filepath.Join(d, "initdb")) && fileExists(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", errNoBinaries
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// start starts the cluster once.
func start() (*cluster, error) {
	mu.Lock()
	defer mu.Unlock()
	if running != nil || failed != nil {
		return running, failed
	}
	running, failed = newCluster()
	return running, failed
}

func newCluster() (*cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	reapStale(bin)
	base, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(base, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(base)
		return nil, err
	}
	c := &cluster{base: base, data: filepath.Join(base, "data")}
	if os.Geteuid() == 0 {
		c.asUser = "postgres"
		if err := chownTo(base, c.asUser); err != nil {
			os.RemoveAll(base)
			return nil, err
		}
	}
	initdb := c.command(filepath.Join(bin, "initdb"), "-D", c.data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(base)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	if err := c.listen(bin); err != nil {
		os.RemoveAll(base)
		return nil, err
	}
	c.admin, err = sql.Open("pgx", c.dsn("postgres"))
	if err == nil {
		err = c.admin.Ping()
	}
	if err != nil {
		_ = c.pgCtl("-D", c.data, "-m", "immediate", "-w", "stop").Run()
		os.RemoveAll(base)
		return nil, fmt.Errorf("connect: %w", err)
	}
	return c, nil
}

// ownerFile holds the pid of the test process that made a cluster.
const ownerFile = "owner.pid"

// reapStale stops and removes the clusters of test processes that died
// without calling Stop (killed by a timeout, say).
func reapStale(bin string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "pgtest-*"))
	for _, base := range dirs {
		b, err := os.ReadFile(filepath.Join(base, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		c := &cluster{base: base, data: filepath.Join(base, "data")}
		if os.Geteuid() == 0 {
			c.asUser = "postgres"
		}
		_ = c.command(filepath.Join(bin, "pg_ctl"), "-D", c.data, "-m", "immediate", "-w", "stop").Run()
		_ = os.RemoveAll(base)
	}
}

// processAlive reports whether a process with pid exists.
func processAlive(pid int) bool {
	_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
	return err == nil
}

// listen starts the server on a free port, trying a few (another test
// process may take the same one between the check and the start).
func (c *cluster) listen(bin string) error {
	var lastErr error
	for range 8 {
		c.port = freePort()
		opts := fmt.Sprintf("-k %s -p %d -c listen_addresses=127.0.0.1 -c fsync=off "+
			"-c synchronous_commit=off -c full_page_writes=off -c max_connections=300", c.base, c.port)
		cmd := c.command(filepath.Join(bin, "pg_ctl"), "-D", c.data, "-l", filepath.Join(c.base, "log"),
			"-w", "-t", "60", "-o", opts, "start")
		out, err := cmd.CombinedOutput()
		if err == nil {
			return nil
		}
		log, _ := os.ReadFile(filepath.Join(c.base, "log"))
		lastErr = fmt.Errorf("pg_ctl start on port %d: %v: %s\n%s", c.port, err, out, log)
	}
	return lastErr
}

func (c *cluster) pgCtl(args ...string) *exec.Cmd {
	bin, _ := binDir()
	return c.command(filepath.Join(bin, "pg_ctl"), args...)
}

// command runs name as the cluster's user.
func (c *cluster) command(name string, args ...string) *exec.Cmd {
	if c.asUser == "" {
		return exec.Command(name, args...)
	}
	return exec.Command("runuser", append([]string{"-u", c.asUser, "--", name}, args...)...)
}

// freePort returns a loopback port in [minPort, maxPort] that binds now.
func freePort() int {
	for range 100 {
		p := minPort + rand.IntN(maxPort-minPort+1)
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err == nil {
			ln.Close()
			return p
		}
	}
	return minPort + rand.IntN(maxPort-minPort+1)
}

func chownTo(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("running as root needs the %q user: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(dir, uid, gid)
}
