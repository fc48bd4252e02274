package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/api"
	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/media"
	"github.com/switchboard-voice/switchboard/internal/recording"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// settingRecordingURLKey holds the key that signs recording download URLs
// (sealed; shared by a cluster's nodes through the store).
const settingRecordingURLKey = "recording_url_key"

// pruneEvery is how often recordings past retention are deleted.
const pruneEvery = time.Hour

// recordings is the recording service as the server runs it.
type recordings struct {
	svc    *recording.Service
	signer recording.Signer
	stop   context.CancelFunc
	done   chan struct{}
}

// RecordingDir is where a server keeps recordings: <data_dir>/recordings.
func RecordingDir(dataDir string) string { return filepath.Join(dataDir, "recordings") }

// startRecordings sets up recording when the store keeps recordings:
// finishes those a crash left open, gives the calls a recorder and the
// API the files, and starts the pruner (stopped by stopRecordings).
func (s *Server) startRecordings(ctx context.Context, a *api.API) error {
	rs, ok := s.Store.(store.Recordings)
	if !ok {
		return nil
	}
	key, err := s.Store.SetSecretIfAbsent(ctx, settingRecordingURLKey, randomKey())
	if err != nil {
		return err
	}
	svc := &recording.Service{Store: rs, Storage: recording.Dir{Root: RecordingDir(s.Config.DataDir)}, Log: s.Log}
	if s.Config.Cluster.Enabled() {
		// A node's files are on its own disk: it finishes and prunes the
		// recordings of the calls it owned, never a peer's.
		svc.CallPrefix = "call_" + s.Config.Cluster.Node() + "-"
	}
	if n, err := svc.Recover(ctx); err != nil {
		s.Log.Warn("recordings: recover", "err", err)
	} else if n > 0 {
		s.Log.Info("recordings left open by a crash finished", "count", n)
	}
	rec := &recordings{svc: svc, signer: recording.Signer{Key: []byte(key)}, done: make(chan struct{})}
	pctx, cancel := context.WithCancel(context.Background())
	rec.stop = cancel
	go func() {
		defer close(rec.done)
		svc.RunPruner(pctx, pruneEvery)
	}()
	s.recordings = rec
	s.Calls.SetRecorder(recorder{svc})
	a.RecordingFiles = rec
	return nil
}

// stopRecordings stops the pruner (calls have stopped their recordings).
func (s *Server) stopRecordings() {
	if s.recordings == nil {
		return
	}
	s.recordings.stop()
	<-s.recordings.done
}

func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Open, SignedURL and ValidURL serve the API.
func (r *recordings) Open(key string) (io.ReadSeekCloser, int64, error) {
	return r.svc.Storage.Open(key)
}

func (r *recordings) SignedURL(id ident.RecordingID, exp time.Time) string {
	return r.signer.URL(id, exp)
}

func (r *recordings) ValidURL(id ident.RecordingID, expires, sig string, now time.Time) bool {
	return r.signer.Valid(id, expires, sig, now)
}

// recorder gives the call core the service.
type recorder struct{ svc *recording.Service }

func (r recorder) Policy(ctx context.Context, account ident.AccountID) (*store.RecordingPolicy, error) {
	return r.svc.Policy(ctx, account)
}

func (r recorder) Start(ctx context.Context, id ident.CallID, account ident.AccountID) (call.Recording, error) {
	x, err := r.svc.Start(ctx, id, account)
	if err != nil {
		return nil, err
	}
	return x, nil
}

// The media bridge is what the call core records through.
var (
	_ call.TappedBridge = bridge{}
	_ call.PromptPlayer = bridge{}
)

// PromptDir holds recording announcements: <data_dir>/prompts.
func PromptDir(dataDir string) string { return filepath.Join(dataDir, "prompts") }

// PlayPrompt plays the WAV file name from the prompts directory to both
// parties.
func (b bridge) PlayPrompt(name string) error {
	pcm, err := loadPrompt(b.prompts, name)
	if err != nil {
		return err
	}
	b.Announce(pcm)
	return nil
}

// loadPrompt reads the WAV prompt name from dir at TapRate.
func loadPrompt(dir, name string) ([]int16, error) {
	if name == "" || filepath.Base(name) != name || strings.HasPrefix(name, ".") {
		return nil, fmt.Errorf("prompt %q: not a file name", name)
	}
	return audio.LoadPrompt(filepath.Join(dir, name), media.TapRate)
}
