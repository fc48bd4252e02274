package recording

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/store/sqlite"
)

func newService(t *testing.T) (*Service, *sqlite.DB, ident.AccountID) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	acct := &store.Account{Name: "a"}
	require.NoError(t, db.CreateAccount(context.Background(), acct))
	svc := &Service{Store: db, Storage: Dir{Root: filepath.Join(t.TempDir(), "recordings")},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return svc, db, acct.ID
}

// A session's row follows it: paused spans while paused, size and
// duration when stopped.
func TestServiceSession(t *testing.T) {
	ctx := context.Background()
	svc, db, acct := newService(t)
	x, err := svc.Start(ctx, "call_x", acct)
	require.NoError(t, err)
	x.Feed(0, make([]int16, 160))
	require.NoError(t, x.Pause(ctx))
	r, err := db.GetRecording(ctx, x.ID())
	require.NoError(t, err)
	require.Equal(t, store.RecordingPaused, r.Status)
	require.Len(t, r.Paused, 1)
	require.NoError(t, x.Resume(ctx))
	got, err := x.Stop(ctx)
	require.NoError(t, err)
	require.Equal(t, store.RecordingFinished, got.Status)
	r, err = db.GetRecording(ctx, x.ID())
	require.NoError(t, err)
	require.NotNil(t, r.EndedAt)
	require.GreaterOrEqual(t, r.Paused[0].EndMS, r.Paused[0].StartMS)
	f, size, err := svc.Storage.Open(r.StorageKey)
	require.NoError(t, err)
	_ = f.Close()
	require.Equal(t, size, r.SizeBytes)
	_, err = x.Stop(ctx)
	require.NoError(t, err, "Stop is idempotent")
}

// A recording left open by a crash (the writer never closed, the header
// behind, a partial frame at the end) is finished by Recover.
func TestServiceRecover(t *testing.T) {
	ctx := context.Background()
	svc, db, acct := newService(t)
	x, err := svc.Start(ctx, "call_y", acct)
	require.NoError(t, err)
	require.NoError(t, x.Pause(ctx))
	tone := audio.NewTone(440, Rate, 0.5)
	pcm := make([]int16, 160)
	for range 75 {
		tone.Read(pcm)
		x.Feed(0, pcm)
		time.Sleep(audio.FrameDuration)
	}
	// "Crash": stop the goroutine without the final header, add half a frame.
	x.w.stopOnce.Do(func() { close(x.w.stop) })
	<-x.w.done
	p, _ := svc.Storage.(Dir).path(x.rec.StorageKey)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte{1, 2, 3})
	require.NoError(t, err)
	require.NoError(t, f.Close())

	n, err := svc.Recover(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	r, err := db.GetRecording(ctx, x.ID())
	require.NoError(t, err)
	require.Equal(t, store.RecordingFinished, r.Status)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, int64(len(b)), r.SizeBytes)
	require.Zero(t, (len(b)-headerSize)%4)
	require.Equal(t, uint32(len(b)-headerSize), binary.LittleEndian.Uint32(b[dataSizeAt:]))
	require.Equal(t, r.DurationMS, r.Paused[0].EndMS, "the open span ends with the file")
	require.InDelta(t, 1400, r.DurationMS, 400)
}

// Prune deletes files and rows past retention and leaves the rest.
func TestServicePrune(t *testing.T) {
	ctx := context.Background()
	svc, db, acct := newService(t)
	require.NoError(t, db.PutRecordingPolicy(ctx, &store.RecordingPolicy{AccountID: acct, Mode: store.RecordingOnDemand, RetentionDays: 2}))
	old, err := svc.Start(ctx, "call_old", acct)
	require.NoError(t, err)
	_, err = old.Stop(ctx)
	require.NoError(t, err)
	fresh, err := svc.Start(ctx, "call_new", acct)
	require.NoError(t, err)
	_, err = fresh.Stop(ctx)
	require.NoError(t, err)
	n, err := svc.Prune(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	svc.Now = func() time.Time { return time.Now().Add(3 * 24 * time.Hour) }
	n, err = svc.Prune(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	_, err = db.GetRecording(ctx, old.ID())
	require.ErrorIs(t, err, store.ErrNotFound)
	entries, err := os.ReadDir(svc.Storage.(Dir).Root)
	require.NoError(t, err)
	require.Empty(t, entries, "the account and call directories go too")
}

func TestSignedURL(t *testing.T) {
	s := Signer{Key: []byte("k")}
	now := time.Unix(1_700_000_000, 0)
	u := s.URL("rec_a", now.Add(time.Minute))
	require.Contains(t, u, "/v1/recordings/rec_a/file?")
	q, err := url.ParseQuery(u[len("/v1/recordings/rec_a/file?"):])
	require.NoError(t, err)
	vals := map[string]string{"expires": q.Get("expires"), "signature": q.Get("signature")}
	require.True(t, s.Valid("rec_a", vals["expires"], vals["signature"], now))
	require.False(t, s.Valid("rec_a", vals["expires"], vals["signature"], now.Add(2*time.Minute)), "expired")
	require.False(t, s.Valid("rec_b", vals["expires"], vals["signature"], now), "another recording")
	require.False(t, s.Valid("rec_a", "9999999999", vals["signature"], now), "another expiry")
	require.False(t, Signer{Key: []byte("other")}.Valid("rec_a", vals["expires"], vals["signature"], now))
	require.False(t, s.Valid("rec_a", "x", "", now))
}

func TestDirRejectsEscapes(t *testing.T) {
	d := Dir{Root: t.TempDir()}
	for _, k := range []string{"", "/etc/passwd", "../x", "a/../../b", "a//b"} {
		_, err := d.Create(k)
		require.ErrorIs(t, err, ErrBadKey, k)
	}
}
