package server

import (
	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/config"
)

// callLimits hands the calls.limits section to the call layer.
func callLimits(l config.CallLimits) call.Limits {
	return call.Limits{SocketRate: l.SocketRate, SocketBurst: l.SocketBurst,
		UserRate: l.UserRate, UserBurst: l.UserBurst, MaxPerAccount: l.MaxPerAccount}
}
