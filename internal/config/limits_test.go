package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCallLimitsValidate(t *testing.T) {
	c := Default()
	require.NoError(t, c.Validate())
	require.Equal(t, CallLimits{SocketRate: 5, SocketBurst: 10, UserRate: 10, UserBurst: 20, MaxPerAccount: 1000}, c.Calls.Limits)
	for name, mutate := range map[string]func(*CallLimits){
		"socket_rate":     func(l *CallLimits) { l.SocketRate = 0 },
		"user_rate":       func(l *CallLimits) { l.UserRate = -1 },
		"socket_burst":    func(l *CallLimits) { l.SocketBurst = 0 },
		"max_per_account": func(l *CallLimits) { l.MaxPerAccount = 0 },
	} {
		c := Default()
		mutate(&c.Calls.Limits)
		err := c.Validate()
		require.Error(t, err, name)
		require.Contains(t, err.Error(), name)
	}
}
