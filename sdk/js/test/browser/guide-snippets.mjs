// The calling guide's code examples, verbatim (docs: "Calling & Call Control").
// Where the guide lists alternatives in one block (three ways to dial) they are
// separate entries; nothing else is edited. guide-snippets.test.mjs checks that
// each one still appears word for word in the guide when the guide is available.
/* eslint-disable */
export const SNIPPETS = {
  outboundE164: String.raw`// Dial a phone number (E.164 format)
const call = await phone.call('+14155551234');`,
  outboundExtension: String.raw`// Or dial an extension
const call = await phone.call('105');`,
  outboundCallerId: String.raw`// Optional: specify caller ID
const call = await phone.call('+14155551234', {
callerId: '+14155559876',
});`,
  inbound: String.raw`phone.on('incoming', (call) => {
// call.id — call identifier
// call.from — caller's number (E.164)
// call.fromName — caller's display name (if available)
// call.to — called number or extension
// Answer
call.answer();
// Or reject
call.reject(); // silent decline
call.reject('busy'); // send busy signal
});`,
  endedReasons: String.raw`call.on('ended', (reason) => {
switch (reason) {
case 'hangup':
// Normal hangup by either party
break;
case 'busy':
// Destination is busy
break;
case 'no-answer':
// No one answered
break;
case 'failed':
// Call setup failed (invalid number, network error)
break;
case 'transferred':
// Call was transferred
break;
case 'rejected':
// Remote party rejected the call
break;
}
});`,
  holdResume: String.raw`// Place the call on hold (remote party hears hold music)
call.hold();
// Resume the call
call.resume();
// Listen for hold events (local or remote hold)
call.on('held', (heldBy) => {
if (heldBy === 'remote') {
console.log('The other party put you on hold');
}
});
call.on('resumed', () => {
console.log('Call resumed');
});`,
  mute: String.raw`// Client-side mute (stops sending audio from the microphone)
call.mute();
call.unmute();
// Check mute state
console.log(call.isMuted); // true or false`,
  dtmf: String.raw`const sender = call.peerConnection.getSenders().find((s) => s.track && s.track.kind === 'audio');
sender.dtmf.insertDTMF('1234#');`,
  blindTransfer: String.raw`// Transfer to an extension
call.transfer('105');
// Transfer to a phone number
call.transfer('+14155551234');
// The call ends for you after the transfer
call.on('ended', (reason) => {
console.log(reason); // 'transferred'
});`,
  attendedTransfer: String.raw`// Step 1: Consult — your current call is held, a new call is placed
const consultCall = await call.attendedTransfer('105');
consultCall.on('answered', () => {
console.log('Consulting with transfer target...');
// Step 2: Complete — connect the original caller to the target
call.completeTransfer();
// Or cancel — hang up the consultation call, original call resumes
// consultCall.hangup();
});`,
  callWaiting: String.raw`phone.on('incoming', (call) => {
if (phone.activeCalls.length > 0) {
// Already on a call — this is call waiting
showCallWaitingUI(call);
} else {
showIncomingCallUI(call);
}
});`,
  swapping: String.raw`// Hold current call and answer the waiting call
currentCall.hold();
waitingCall.answer();
// Later, swap back
waitingCall.hold();
currentCall.resume();`,
  activeCalls: String.raw`// List all active calls
const calls = phone.activeCalls;
// [{ id, from, to, state: 'active' | 'held' | 'ringing', direction }]
// Find a specific call
const call = phone.getCall(callId);`,
  rawWebSocket: String.raw`// 1. Create the peer connection and generate an SDP offer
const pc = new RTCPeerConnection({ iceServers });
const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
stream.getTracks().forEach((track) => pc.addTrack(track, stream));
const offer = await pc.createOffer();
await pc.setLocalDescription(offer);
// 2. Initiate the call with the offer in-band
ws.send(
JSON.stringify({
type: 'call.create',
req_id: 'my-call-1',
destination: '+14155551234',
sdp: offer.sdp,
})
);
// 3. Handle server messages
ws.onmessage = async (event) => {
const msg = JSON.parse(event.data);
switch (msg.type) {
case 'call.trying':
// Server assigned a call_id
const callId = msg.call_id;
break;
case 'sdp.answer':
// Server forwarded Asterisk's answer to our offer
await pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
break;
case 'ice.candidate':
await pc.addIceCandidate({
candidate: msg.candidate,
sdpMid: msg.sdp_mid,
sdpMLineIndex: msg.sdp_m_line_index,
});
break;
case 'call.ringing':
// Play ringback tone
break;
case 'call.answered':
// Call connected — audio is flowing
break;
case 'call.ended':
pc.close();
break;
}
};
// 4. Send local ICE candidates
pc.onicecandidate = (event) => {
if (event.candidate) {
ws.send(
JSON.stringify({
type: 'ice.candidate',
call_id: callId,
candidate: event.candidate.candidate,
sdp_mid: event.candidate.sdpMid,
sdp_m_line_index: event.candidate.sdpMLineIndex,
})
);
} else {
ws.send(JSON.stringify({ type: 'ice.done', call_id: callId }));
}
};`,
};
/** The lines from..to (1-based, inclusive) of a snippet, unchanged. */
export function lines(snippet, from, to = from) {
  return snippet.split('\n').slice(from - 1, to).join('\n');
}

/**
 * One alternative of a snippet that lists several in a row (answer / reject /
 * reject('busy')): the other alternatives' lines are commented out, nothing
 * else changes.
 */
export function alternative(snippet, keep, all) {
  return snippet
    .split('\n')
    .map((l) => (all.some((a) => l.startsWith(a)) && !l.startsWith(keep) ? `// ${l}` : l))
    .join('\n');
}
