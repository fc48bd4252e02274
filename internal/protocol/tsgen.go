package protocol

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// enumValues lists the wire values of every string enum, for TypeScript.
var enumValues = map[reflect.Type][]string{
	reflect.TypeOf(ErrorCode("")): strs(CodeAuthFailed, CodeAuthExpired, CodeSessionRevoked,
		CodeSessionReplaced, CodeSessionLimit, CodeIdleTimeout, CodeSlowConsumer, CodeGoingAway,
		CodeInvalidMessage, CodeCallFailed, CodeCallNotFound, CodeRateLimited,
		CodePresenceUnavailable, CodeInternalError, CodeEmergencyAddressRequired, CodeParkFull, CodeRecordingNotAllowed, CodeConferenceFull),
	reflect.TypeOf(EndReason("")): strs(EndHangup, EndBusy, EndNoAnswer, EndFailed,
		EndTransferred, EndRejected, EndAnsweredElsewhere, EndServerShutdown, EndMerged),
	reflect.TypeOf(RejectReason("")):   strs(RejectDecline, RejectBusy),
	reflect.TypeOf(HeldBy("")):         strs(HeldLocal, HeldRemote),
	reflect.TypeOf(CallState("")):      strs(StateRinging, StateActive, StateHeld),
	reflect.TypeOf(Direction("")):      strs(DirectionInbound, DirectionOutbound),
	reflect.TypeOf(TransferStep("")):   strs(StepConsult, StepComplete),
	reflect.TypeOf(PresenceStatus("")): strs(PresenceAvailable, PresenceOnCall, PresenceOffline),
	reflect.TypeOf(RecordAction("")):   strs(RecordStart, RecordPause, RecordResume, RecordStop),
	reflect.TypeOf(RecordingState("")): strs(RecordingActive, RecordingPaused, RecordingStopped),
}

func strs[T ~string](vs ...T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// TypeScript renders the protocol as TypeScript declarations for the SDK.
func TypeScript() string {
	var b strings.Builder
	b.WriteString("// Code generated from internal/protocol by `go test ./internal/protocol -update`. DO NOT EDIT.\n\n")
	fmt.Fprintf(&b, "export const SUBPROTOCOL = %q;\n\n", Subprotocol)
	var enums []reflect.Type
	for t := range enumValues {
		enums = append(enums, t)
	}
	sort.Slice(enums, func(i, j int) bool { return enums[i].Name() < enums[j].Name() })
	for _, t := range enums {
		quoted := make([]string, len(enumValues[t]))
		for i, v := range enumValues[t] {
			quoted[i] = fmt.Sprintf("'%s'", v)
		}
		fmt.Fprintf(&b, "export type %s = %s;\n", t.Name(), strings.Join(quoted, " | "))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "%s\n", tsInterface(reflect.TypeOf(PresenceEntry{}), ""))
	fmt.Fprintf(&b, "%s\n", tsInterface(reflect.TypeOf(ConferenceParticipant{}), ""))
	fmt.Fprintf(&b, "%s\n", tsInterface(reflect.TypeOf(RecordingInfo{}), ""))
	client := writeMessages(&b, "Client", clientMessages)
	server := writeMessages(&b, "Server", serverMessages)
	fmt.Fprintf(&b, "export type ClientMessage = %s;\n\n", strings.Join(client, " | "))
	fmt.Fprintf(&b, "export type ServerMessage = %s;\n", strings.Join(server, " | "))
	return b.String()
}

func writeMessages(b *strings.Builder, side string, reg map[Type]func() Message) []string {
	var types []string
	for typ := range reg {
		types = append(types, string(typ))
	}
	sort.Strings(types)
	names := make([]string, 0, len(types))
	for _, typ := range types {
		t := reflect.TypeOf(reg[Type(typ)]()).Elem()
		name := t.Name()
		if _, both := clientMessages[Type(typ)]; both && side == "Server" {
			names = append(names, name) // already written with the client side
			continue
		}
		names = append(names, name)
		fmt.Fprintf(b, "%s\n", tsInterface(t, typ))
	}
	return names
}

func tsInterface(t reflect.Type, wireType string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "export interface %s {\n", t.Name())
	if wireType != "" {
		fmt.Fprintf(&b, "  type: '%s';\n", wireType)
	}
	writeFields(&b, t)
	b.WriteString("}\n")
	return b.String()
}

func writeFields(b *strings.Builder, t reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			writeFields(b, f.Type)
			continue
		}
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		optional := strings.Contains(opts, "omitempty")
		ts := tsType(f.Type)
		if f.Type.Kind() == reflect.Pointer {
			ts += " | null"
		}
		q := ""
		if optional {
			q = "?"
		}
		fmt.Fprintf(b, "  %s%s: %s;\n", name, q, ts)
	}
}

func tsType(t reflect.Type) string {
	if _, ok := enumValues[t]; ok {
		return t.Name()
	}
	switch t.Kind() {
	case reflect.Pointer:
		return tsType(t.Elem())
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Uint16, reflect.Int64, reflect.Float64:
		return "number"
	case reflect.Slice:
		return tsType(t.Elem()) + "[]"
	case reflect.Map:
		return "Record<string, unknown>"
	case reflect.Struct:
		return t.Name()
	}
	panic("protocol: no TypeScript type for " + t.String())
}
