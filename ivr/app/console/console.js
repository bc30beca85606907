// The agent desktop: log in, set the agent's state, show the screen pop of the call being
// offered or taken, and save its wrap-up. Everything comes from the app's own REST API and the
// agent's event WebSocket (docs/desktop-events.schema.json), with the session cookie; every
// request that changes something carries the session's CSRF token (docs/access.md).

const $ = (selector) => document.querySelector(selector);
let csrf = null;
let me = null;
let socket = null;
let currentCall = null;

async function api(method, path, body) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = csrf ?? "";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(text || `${response.status}`);
  return text ? JSON.parse(text) : null;
}

function show(id, visible) { $(id).hidden = !visible; }

function field(name, value) {
  $(`#pop [data-field="${name}"]`).textContent = value ?? "-";
}

function renderState(agent) {
  const state = $("#state");
  state.textContent = agent.state + (agent.pause_reason ? ` (${agent.pause_reason})` : "");
  state.dataset.state = agent.state;
  $("#in-state").textContent = agent.in_state_s !== undefined ? `for ${agent.in_state_s} s` : "";
  if (agent.state === "wrap_up" && currentCall) show("#wrapup", true);
}

async function renderPop(pop) {
  currentCall = pop.call_id;
  field("caller", pop.caller);
  $('#pop [data-field="caller_name"]').textContent = pop.caller_name || "";
  field("language", pop.language);
  field("queue", pop.queue);
  field("waited", pop.waited_s === null ? null : `${Math.round(pop.waited_s)} s`);
  field("account", pop.account ?? "not verified");
  if (pop.kind === "outbound") {
    // A campaign's contact: the list's own columns and the earlier attempts instead of a path.
    field("path", `campaign ${pop.campaign}, attempt ${pop.attempt}: ` +
      (pop.history.map(({ at, result }) => `${at.slice(0, 16).replace("T", " ")} ${result}`)
        .join(", ") || "first attempt"));
    field("inputs", Object.entries(pop.fields).map(([k, v]) => `${k}: ${v}`).join(", ")
      || "none");
  } else {
    field("path", (pop.path ?? []).join(" \u2192 "));
    // Secure entries come masked ("***") from the server: the page never has a PIN to hide.
    field("inputs", (pop.inputs ?? []).map(({ node, value }) => `${node}: ${value}`)
      .join(", ") || "none");
  }
  renderCall(pop.kind === "callback" ? "callback" : "offered");
  show("#pop", true);
  $("#wrapup-saved").textContent = "";
  loadDispositions(pop.queue).catch(() => {});
  show("#wrapup", true);
  const list = $("#history");
  list.replaceChildren();
  try {
    const earlier = await api("GET", `/agents/${me.agent_id}/calls/${pop.call_id}/history`);
    for (const contact of earlier) {
      const item = document.createElement("li");
      item.textContent = `${contact.saved_at.slice(0, 16).replace("T", " ")} ` +
        `${contact.disposition}: ${contact.notes}`;
      list.append(item);
    }
  } catch (error) { /* the call may not be this agent's yet: offered, not taken */ }
  if (!list.children.length) {
    const none = document.createElement("li");
    none.className = "muted";
    none.textContent = "none";
    list.append(none);
  }
}

// A preview campaign's contact offered to this agent: Call (the agent's phone rings, then the
// customer's) or Skip. A withdrawn offer (paused, logged out, the campaign stopped) is hidden.
let offered = null;

function renderPreview(offer) {
  offered = offer && !offer.withdrawn ? offer : null;
  $("#preview-error").textContent = "";
  if (offered) {
    const put = (name, value) => {
      $(`#preview [data-preview="${name}"]`).textContent = value;
    };
    put("number", offered.number);
    put("name", offered.name);
    put("campaign", offered.campaign);
    put("attempt", String(offered.attempt));
    put("fields", Object.entries(offered.fields).map(([k, v]) => `${k}: ${v}`).join(", ")
      || "none");
    put("history", offered.history.map(({ at, result }) =>
      `${at.slice(0, 16).replace("T", " ")} ${result}`).join(", ") || "none");
  }
  show("#preview", offered !== null);
}

async function answerPreview(answer) {
  if (!offered) return;
  const offer = offered;
  try {
    await api("POST", `/agents/${me.agent_id}/preview/${answer}`, { call_id: offer.call_id });
    if (offered === offer) renderPreview(null);
  } catch (error) {
    $("#preview-error").textContent = error.message;
  }
}

function listen() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${scheme}//${location.host}/agents/${me.agent_id}/events`);
  socket.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.type === "agent_state") renderState(event);
    else if (event.type === "screen_pop") renderPop(event);
    else if (event.type === "connected") renderCall("talking");
    else if (event.type === "hold") renderCall(event.held ? "held" : "talking");
    else if (event.type === "call_ended") renderCall("ended");
    else if (event.type === "preview") renderPreview(event);
  };
  socket.onclose = () => { if (me) setTimeout(listen, 2000); };
}

async function act(action, body) {
  $("#desktop-error").textContent = "";
  try {
    renderState(await api("POST", `/agents/${me.agent_id}/${action}`, body));
  } catch (error) {
    $("#desktop-error").textContent = error.message;
  }
}

// The wrap-up's codes (queues.yaml): those of the screen pop's queue, or every code until a call
// comes. A queue gone since the pop (a reload) offers every code, as the server then accepts.
let dispositionsOf = null;

async function loadDispositions(queue) {
  const key = queue || "";
  if (key === dispositionsOf) return;
  dispositionsOf = key;
  const all = "/dispositions";
  let choices;
  try {
    choices = key
      ? await api("GET", `${all}?queue=${encodeURIComponent(key)}`).catch(() => api("GET", all))
      : await api("GET", all);
  } catch (error) {
    if (key === dispositionsOf) dispositionsOf = null; // asked again at the next pop
    throw error;
  }
  if (key !== dispositionsOf) return; // a later pop asked for another queue meanwhile
  const select = $("#wrapup select");
  const chosen = select.value; // kept if the agent picked one still offered
  select.replaceChildren(...choices.map(({ code, label }) => {
    const option = document.createElement("option");
    option.value = code;
    option.textContent = label;
    option.selected = code === chosen;
    return option;
  }));
}

// Hold and blind transfer of the call the agent is on (POST /agents/{id}/call/...): the reply
// comes once the call has done it, and the "hold" event keeps other open desktops in step.
function renderCall(state) {
  $('#pop [data-field="call_state"]').textContent = state;
  const live = state === "talking" || state === "held";
  $("#hold").hidden = state === "held";
  $("#hold").disabled = !live;
  $("#unhold").hidden = state !== "held";
  $("#transfer").disabled = !live;
}

async function control(what, body) {
  $("#call-error").textContent = "";
  try {
    const done = await api("POST", `/agents/${me.agent_id}/call/${what}`, body);
    renderCall(done.state === "held" ? "held" : done.state === "talking" ? "talking" : "ended");
  } catch (error) {
    $("#call-error").textContent = error.message;
  }
}

async function loadTransferTargets() {
  const targets = await api("GET", `/agents/${me.agent_id}/call/targets`);
  $("#transfer-targets").replaceChildren(...targets.map(({ to, queue }) => {
    const option = document.createElement("option");
    option.value = to;
    option.textContent = `queue ${queue}`;
    return option;
  }));
}

async function start() {
  me = await api("GET", "/auth/me");
  csrf = me.csrf_token;
  $("#who").textContent = `${me.user} (${me.role})`;
  show("#login", false);
  show("#logout", true);
  if (me.role !== "agent") { showTabs(); return; }
  show("#desktop", true);
  await loadDispositions(null);
  loadTransferTargets().catch(() => {});
  renderState(await api("GET", `/agents/${me.agent_id}`));
  listen();
  api("GET", `/agents/${me.agent_id}/preview`).then(renderPreview).catch(() => {});
}

// The wallboard: supervisors (their queues), reporting and admin (all), pushed by the app.

const percent = (v) => (v === null || v === undefined ? "-" : `${Math.round(v * 100)} %`);
const seconds = (v) => (v === null || v === undefined ? "-" : `${Math.round(v)} s`);

function cell(row, text, level) {
  const td = document.createElement("td");
  td.textContent = text;
  if (level && level !== "none") td.className = level;
  row.append(td);
  return td;
}

function renderBoard(board) {
  $("#board-at").textContent = new Date(board.at * 1000).toLocaleTimeString();
  const rows = board.queues.map((q) => {
    const tr = document.createElement("tr");
    tr.dataset.queue = q.name;
    const a = q.agents;
    const name = cell(tr, q.name);
    name.className = "link";
    name.addEventListener("click", () => openIntraday(q.name));
    cell(tr, String(q.waiting), q.levels.waiting).dataset.field = "waiting";
    cell(tr, seconds(q.longest_wait_s), q.levels.longest_wait_s).dataset.field = "longest";
    cell(tr, percent(q.today.service_level), q.levels.service_level);
    cell(tr, seconds(q.today.average_speed_of_answer_s));
    cell(tr, seconds(q.today.average_handle_time_s));
    cell(tr, percent(q.today.abandonment_rate), q.levels.abandonment_rate);
    cell(tr, String(q.today.offered)).dataset.field = "offered";
    cell(tr, String(q.today.answered)).dataset.field = "answered";
    cell(tr, `${a.available} / ${a.ringing + a.on_call + a.wrap_up} / ${a.paused}`);
    cell(tr, percent(q.occupancy));
    return tr;
  });
  $("#queue-rows").replaceChildren(...rows);
  $("#campaign-rows").replaceChildren(...(board.campaigns || []).map((c) => {
    const tr = document.createElement("tr");
    tr.dataset.campaign = c.name;
    cell(tr, c.name);
    cell(tr, c.mode);
    cell(tr, c.queue ?? "-");
    cell(tr, c.running ? "yes" : "no").dataset.field = "running";
    cell(tr, `${c.ringing} / ${c.waiting_agent} / ${c.connected}`);
    cell(tr, String(c.today.dialled)).dataset.field = "dialled";
    cell(tr, String(c.today.human)).dataset.field = "human";
    cell(tr, String(c.today.machine));
    cell(tr, `${c.today.abandoned} (${percent(c.today.abandon_rate)})`)
      .dataset.field = "abandoned";
    cell(tr, String(c.today.refused));
    cell(tr, c.pacing ?? "-");
    return tr;
  }));
  $("#agent-rows").replaceChildren(...board.agents.map((agent) => {
    const tr = document.createElement("tr");
    tr.dataset.agent = agent.id;
    cell(tr, agent.name);
    cell(tr, agent.state + (agent.pause_reason ? ` (${agent.pause_reason})` : ""));
    cell(tr, seconds(agent.in_state_s));
    return tr;
  }));
}

async function openIntraday(queue) {
  const rows = await api("GET", `/queues/${encodeURIComponent(queue)}/intervals`);
  $('#intraday [data-field="queue"]').textContent = queue;
  $("#interval-rows").replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    cell(tr, new Date(row.start * 1000).toLocaleTimeString([], { hour: "2-digit",
                                                                minute: "2-digit" }));
    cell(tr, String(row.offered));
    cell(tr, String(row.answered));
    cell(tr, percent(row.service_level));
    cell(tr, seconds(row.average_speed_of_answer_s));
    cell(tr, seconds(row.average_handle_time_s));
    cell(tr, percent(row.abandonment_rate));
    cell(tr, row.agents_for_goal === null ? "-" : String(row.agents_for_goal));
    return tr;
  }));
  show("#intraday", true);
}

function showWallboard() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const board = new WebSocket(`${scheme}//${location.host}/wallboard/events`);
  board.onmessage = (message) => renderBoard(JSON.parse(message.data));
  board.onclose = () => { if (me) setTimeout(showWallboard, 2000); };
}

// Operations: tabs for the wallboard, call records with their traces, flows, health.

function showTabs() {
  show("#tabs", true);
  for (const button of document.querySelectorAll("#tabs button")) {
    const roles = button.dataset.roles;
    button.hidden = Boolean(roles) && !roles.split(" ").includes(me.role);
    button.addEventListener("click", () => openTab(button.dataset.tab));
  }
  showWallboard();
  openTab("wallboard");
}

function openTab(name) {
  for (const button of document.querySelectorAll("#tabs button")) {
    button.setAttribute("aria-pressed", String(button.dataset.tab === name));
    show(`#${button.dataset.tab}`, button.dataset.tab === name);
  }
  if (name === "flows") loadFlows();
  if (name === "health") loadHealth();
  if (name === "calls") search();
  if (name === "callbacks") loadCallbacks();
  if (name === "voicemail") loadMessages();
}

const when = (iso) => (iso ? iso.slice(0, 16).replace("T", " ") : "-");

async function loadCallbacks() {
  const found = await api("GET", "/callbacks");
  $("#callback-rows").replaceChildren(...found.map((callback) => {
    const tr = document.createElement("tr");
    tr.dataset.callback = callback.id;
    cell(tr, callback.queue);
    cell(tr, callback.number);
    cell(tr, callback.state);
    cell(tr, when(callback.next_attempt_at));
    cell(tr, String(callback.attempts));
    cell(tr, callback.outcome || "-");
    return tr;
  }));
}

async function loadMessages() {
  const found = await api("GET", "/messages?limit=200");
  $("#message-rows").replaceChildren(...found.map((message) => {
    const tr = document.createElement("tr");
    tr.dataset.message = message.id;
    cell(tr, message.mailbox);
    cell(tr, message.caller);
    cell(tr, when(message.created_at));
    cell(tr, String(Math.round(message.duration_s)));
    cell(tr, message.heard ? "yes" : "no");
    const player = document.createElement("audio");
    player.controls = true;
    player.preload = "none";
    player.src = `/messages/${encodeURIComponent(message.id)}/audio`;
    const td = document.createElement("td");
    td.append(player);
    tr.append(td);
    return tr;
  }));
}

async function search() {
  const form = new FormData($("#search"));
  const query = new URLSearchParams({ limit: "100" });
  for (const [key, value] of form.entries()) if (value) query.set(key, value);
  $("#search-error").textContent = "";
  try {
    const found = await api("GET", `/records?${query}`);
    $("#record-rows").replaceChildren(...found.map((record) => {
      const tr = document.createElement("tr");
      tr.dataset.call = record.call_id;
      cell(tr, (record.started_at ?? "").slice(0, 19).replace("T", " "));
      cell(tr, record.caller);
      cell(tr, record.flow);
      cell(tr, record.outcome ?? "in progress");
      cell(tr, record.keys);
      cell(tr, record.total_s === null ? "-" : String(Math.round(record.total_s)));
      tr.addEventListener("click", () => openRecord(record.call_id));
      return tr;
    }));
  } catch (error) {
    $("#search-error").textContent = error.message;
  }
}

async function openRecord(callId) {
  const record = await api("GET", `/records/${callId}`);
  $('#record [data-field="call_id"]').textContent = callId;
  $('#record [data-field="wrapup"]').textContent = record.wrapup
    ? `Wrap-up by ${record.wrapup.agent_id}: ${record.wrapup.disposition}. ${record.wrapup.notes}`
    : "No wrap-up.";
  let trace = [];
  try { trace = await api("GET", `/records/${callId}/trace`); } catch (error) { /* none */ }
  $("#trace-rows").replaceChildren(...trace.map((entry) => {
    const tr = document.createElement("tr");
    const { t, event, ...details } = entry;
    cell(tr, String(t));
    cell(tr, event);
    cell(tr, JSON.stringify(details)).className = "details";
    return tr;
  }));
  show("#record", true);
}

async function loadFlows() {
  const flows = await api("GET", "/flows");
  $("#flow-list").replaceChildren(...flows.map((flow) => {
    const figure = document.createElement("figure");
    const caption = document.createElement("figcaption");
    caption.textContent = `${flow.name}, version ${flow.version}, ${flow.nodes} nodes`;
    const picture = document.createElement("img");
    picture.src = `/flows/${encodeURIComponent(flow.name)}/graph.svg`;
    picture.alt = `the ${flow.name} flow`;
    figure.append(caption, picture);
    return figure;
  }));
}

async function loadHealth() {
  const health = await api("GET", "/health");
  const list = $("#health-list");
  list.replaceChildren();
  const add = (name, value) => {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value;
    list.append(dt, dd);
  };
  add("Asterisk (ARI)", health.ari_connected ? "connected" : "NOT connected");
  add("ARI connections made", String(health.ari_connections));
  add("Database", health.database);
  add("Calls now", String(health.active_calls));
  add("Flows", Object.entries(health.flows.versions).map(([n, v]) => `${n} v${v}`).join(", "));
  add("Flow reloads", `${health.flows.reloads} taken, ${health.flows.refused} refused`);
  for (const [engine, state] of Object.entries(health.speech)) add(`Speech ${engine}`, state);
}

$("#search").addEventListener("submit", (submitted) => { submitted.preventDefault(); search(); });

$("#login").addEventListener("submit", async (submitted) => {
  submitted.preventDefault();
  const form = new FormData($("#login"));
  $("#login-error").textContent = "";
  try {
    await api("POST", "/auth/login", { user: form.get("user"), password: form.get("password") });
    await start();
  } catch (error) {
    $("#login-error").textContent = error.message;
  }
});

$("#ready").addEventListener("click", async () => {
  const agent = await api("GET", `/agents/${me.agent_id}`);
  await act(agent.state === "logged_out" ? "login" : "unpause");
});
$("#pause").addEventListener("click", () => act("pause", { reason: $("#pause-code").value }));
$("#agent-logout").addEventListener("click", () => act("logout"));
$("#hold").addEventListener("click", () => control("hold"));
$("#unhold").addEventListener("click", () => control("unhold"));
$("#transfer").addEventListener("click", () => control("transfer", { to: $("#transfer-to").value }));
$("#preview-accept").addEventListener("click", () => answerPreview("accept"));
$("#preview-skip").addEventListener("click", () => answerPreview("skip"));

$("#wrapup").addEventListener("submit", async (submitted) => {
  submitted.preventDefault();
  const form = new FormData($("#wrapup"));
  try {
    await api("POST", `/agents/${me.agent_id}/wrapup`, {
      call_id: currentCall, disposition: form.get("disposition"), notes: form.get("notes"),
    });
    $("#wrapup-saved").textContent = "saved";
  } catch (error) {
    $("#wrapup-saved").textContent = "";
    $("#desktop-error").textContent = error.message;
  }
});

$("#logout").addEventListener("click", async () => {
  const leaving = me;
  me = null;
  if (socket) socket.close();
  if (leaving) await api("POST", "/auth/logout").catch(() => {});
  location.reload();
});

start().catch(() => show("#login", true));
