package server

import (
	"context"

	"github.com/switchboard-voice/switchboard/internal/auth"
	"github.com/switchboard-voice/switchboard/internal/httplimit"
)

// markingTokens verifies signalling tokens and, when one is valid, takes the
// socket's connection out of the unauthenticated count per source
// (httplimit); the hub verifies with a context derived from the upgrade
// request's.
type markingTokens struct{ *auth.Tokens }

func (m markingTokens) Verify(ctx context.Context, token string) (auth.Identity, error) {
	id, err := m.Tokens.Verify(ctx, token)
	if err == nil {
		httplimit.MarkAuthenticated(ctx)
	}
	return id, err
}
