// The page's half of the client: the browser's WebSocket and timers in,
// the WebAssembly core's messages and events out. The protocol lives in
// the core (xmpp_web.wasm); this file only moves strings and draws.
import init, { WebClient } from "./pkg/xmpp_web.js";

const $ = (id) => document.getElementById(id);
const now = () => performance.now();
let client = null;
let socket = null;
let timer = null;

function status(text) {
  $("status").textContent = text;
}

function log(direction, from, body) {
  const li = document.createElement("li");
  li.className = direction;
  li.textContent = `${from}: ${body}`;
  $("log").append(li);
}

function drawRoster() {
  const list = $("roster");
  list.replaceChildren();
  for (const item of JSON.parse(client.roster_json())) {
    const li = document.createElement("li");
    li.className = item.online ? "online" : "offline";
    li.dataset.jid = item.jid;
    li.textContent = `${item.name || item.jid} (${item.subscription})`;
    list.append(li);
  }
}

// After every input: send what the core wrote, show what it reported,
// and arm the timer it asks for.
function pump() {
  if (!client) return;
  for (let m = client.poll_message(); m !== undefined; m = client.poll_message()) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(m);
  }
  let ended = false;
  for (let e = client.poll_event(now()); e !== undefined; e = client.poll_event(now())) {
    const event = JSON.parse(e);
    handle(event);
    ended ||= event.type === "closed";
  }
  // Events may have queued more (the roster request, presence).
  for (let m = client.poll_message(); m !== undefined; m = client.poll_message()) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(m);
  }
  if (client.wants_close() && socket) socket.close(1000);
  clearTimeout(timer);
  if (ended) {
    client.free();
    client = null;
    return;
  }
  const at = client.poll_timeout();
  if (at !== undefined) {
    timer = setTimeout(() => { client.handle_timeout(now()); pump(); }, Math.max(0, at - now()));
  }
}

function handle(event) {
  switch (event.type) {
    case "online":
      status(`online as ${event.jid}`);
      $("session").hidden = false;
      break;
    case "roster":
    case "presence":
      drawRoster();
      break;
    case "message":
      log("in", event.from, event.body);
      break;
    case "subscription_request":
      // A small demo: anyone who asks may see our presence.
      client.approve(now(), event.from);
      break;
    case "closed":
      status(`offline (${event.reason})`);
      $("session").hidden = true;
      break;
  }
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const url = $("url").value;
  try {
    client = new WebClient($("jid").value, $("password").value, url.startsWith("wss:"), now());
  } catch (e) {
    status(`cannot start: ${e.message ?? e}`);
    return;
  }
  status("connecting");
  socket = new WebSocket(url, "xmpp");
  socket.onopen = () => pump();
  socket.onmessage = (m) => { client?.handle_message(now(), m.data); pump(); };
  socket.onclose = () => { client?.handle_close(now()); pump(); socket = null; };
  socket.onerror = () => status("WebSocket error");
});

$("add").addEventListener("submit", (ev) => {
  ev.preventDefault();
  client.add_contact(now(), $("contact").value);
  pump();
});

$("send").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const to = $("to").value, body = $("body").value;
  client.send_message(now(), to, body);
  log("out", "me", body);
  pump();
});

$("logout").addEventListener("click", () => { client?.close(now()); pump(); });

// Query parameters fill the form (handy for links and tests).
for (const [key, value] of new URLSearchParams(location.search)) {
  if ($(key)) $(key).value = value;
}

await init();
