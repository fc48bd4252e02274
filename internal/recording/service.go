package recording

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Rate and Channels of the files the service writes: the bridge's
// telephone-band PCM, one channel per side of the call.
const (
	Rate     = 8000
	Channels = 2
)

// storeTimeout bounds each store write of the service.
const storeTimeout = 5 * time.Second

// Service starts and finishes recordings, prunes old ones and recovers
// those a crash left open.
type Service struct {
	Store   store.Recordings
	Storage Storage
	Log     *slog.Logger
	// CallPrefix limits crash recovery and pruning to the recordings of
	// calls whose id starts with it (a cluster node's own: its files are
	// on its disk); "" takes every recording.
	CallPrefix string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Policy is the account's recording policy.
func (s *Service) Policy(ctx context.Context, account ident.AccountID) (*store.RecordingPolicy, error) {
	return s.Store.GetRecordingPolicy(ctx, account)
}

// Session is one recording in progress: channel 0 is the first side of
// the call's bridge (the caller), channel 1 the other.
type Session struct {
	svc *Service
	w   *Writer

	mu  sync.Mutex
	rec store.Recording
}

// Start creates the file and the row of a new recording of the call.
func (s *Service) Start(ctx context.Context, callID ident.CallID, account ident.AccountID) (*Session, error) {
	rec := store.Recording{ID: ident.NewRecordingID(), CallID: callID, AccountID: account,
		SampleRate: Rate, Channels: Channels, StartedAt: s.now().UTC(), Status: store.RecordingActive}
	rec.StorageKey = fmt.Sprintf("%s/%s/%s.wav", account, callID, rec.ID)
	f, err := s.Storage.Create(rec.StorageKey)
	if err != nil {
		return nil, err
	}
	w, err := NewWriter(f, Rate, Channels, s.Now)
	if err != nil {
		_ = f.Close()
		_ = s.Storage.Delete(rec.StorageKey)
		return nil, err
	}
	if err := s.Store.CreateRecording(ctx, &rec); err != nil {
		_, _ = w.Close()
		_ = s.Storage.Delete(rec.StorageKey)
		return nil, err
	}
	return &Session{svc: s, w: w, rec: rec}, nil
}

// ID is the recording's id.
func (x *Session) ID() ident.RecordingID { return x.rec.ID }

// Feed adds decoded audio of one side (0 or 1); see Writer.Feed.
func (x *Session) Feed(side int, pcm []int16) { x.w.Feed(side, pcm) }

// Pause writes silence from now on and saves the span's start.
func (x *Session) Pause(ctx context.Context) error {
	x.w.Pause()
	return x.save(ctx, store.RecordingPaused, nil)
}

// Resume ends the pause and saves the span.
func (x *Session) Resume(ctx context.Context) error {
	x.w.Resume()
	return x.save(ctx, store.RecordingActive, nil)
}

// Stop finishes the file and the row. It is idempotent.
func (x *Session) Stop(ctx context.Context) (store.Recording, error) {
	_, werr := x.w.Close()
	end := x.svc.now().UTC()
	err := x.save(ctx, store.RecordingFinished, &end)
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.rec, errors.Join(werr, err)
}

// save writes the row with the writer's progress so far.
func (x *Session) save(ctx context.Context, status string, ended *time.Time) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.rec.EndedAt != nil {
		return nil
	}
	res := x.w.result()
	x.rec.Status, x.rec.EndedAt = status, ended
	x.rec.DurationMS, x.rec.SizeBytes, x.rec.Paused = res.DurationMS, res.SizeBytes, res.Paused
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	return x.svc.Store.UpdateRecording(ctx, &x.rec)
}

// Recover finishes the recordings a crash left open: their files hold
// what was written up to it; the header's sizes are made to count all of
// it, and the row gets the file's size and duration. It returns how many
// it finished. Run it before calls start (a cluster node: only for the
// recordings of calls it owned).
func (s *Service) Recover(ctx context.Context) (int, error) {
	open, err := s.Store.OpenRecordings(ctx, s.CallPrefix)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range open {
		size, err := s.repair(r)
		if err != nil {
			s.Log.Warn("recording: recover", "recording_id", r.ID, "err", err)
		}
		frames := max(0, size-headerSize) / int64(2*max(1, r.Channels))
		r.SizeBytes = size
		r.DurationMS = frames * 1000 / int64(max(1, r.SampleRate))
		for i := range r.Paused {
			if r.Paused[i].EndMS < 0 {
				r.Paused[i].EndMS = r.DurationMS
			}
		}
		end := r.StartedAt.Add(time.Duration(r.DurationMS) * time.Millisecond)
		r.EndedAt, r.Status = &end, store.RecordingFinished
		if err := s.Store.UpdateRecording(ctx, &r); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// repair rewrites the header of a local file to count its whole frames.
func (s *Service) repair(r store.Recording) (int64, error) {
	d, ok := s.Storage.(Dir)
	if !ok {
		_, size, err := s.Storage.Open(r.StorageKey)
		return size, err
	}
	p, err := d.path(r.StorageKey)
	if err != nil {
		return 0, err
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	block := int64(2 * max(1, r.Channels))
	size := headerSize + max(0, st.Size()-headerSize)/block*block
	if size > st.Size() || size-headerSize > maxWAVData {
		return st.Size(), nil
	}
	if err := f.Truncate(size); err != nil {
		return st.Size(), err
	}
	_, err = f.WriteAt(header(r.SampleRate, r.Channels, uint32(size-headerSize)), 0)
	return size, err
}

// Prune deletes the files and rows of recordings older than their
// account's retention, in batches; it returns how many it deleted.
func (s *Service) Prune(ctx context.Context) (int, error) {
	n := 0
	for {
		old, err := s.Store.ExpiredRecordings(ctx, s.now(), 100, s.CallPrefix)
		if err != nil || len(old) == 0 {
			return n, err
		}
		for _, r := range old {
			if err := s.Storage.Delete(r.StorageKey); err != nil {
				return n, err
			}
			if err := s.Store.DeleteRecording(ctx, r.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return n, err
			}
			n++
		}
	}
}

// RunPruner prunes now and every interval until ctx ends.
func (s *Service) RunPruner(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := s.Prune(ctx); err != nil && ctx.Err() == nil {
			s.Log.Warn("recording: prune", "err", err)
		} else if n > 0 {
			s.Log.Info("recordings pruned", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
