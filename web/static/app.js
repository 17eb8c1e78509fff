// Control room page script: confirmations on destructive forms, the live board (server-sent events), the
// alerts badge on every page, sound and notifications, and times in the control room's zone.
"use strict";

document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) { event.preventDefault(); }
});

function text(row, selector, value) {
  var node = row.querySelector(selector);
  if (node) { node.textContent = value == null ? "" : String(value); }
}

// ---- times: the zone comes from the server (WEB_TIME_ZONE); the data stays UTC ISO strings
function zone() { return document.body.getAttribute("data-tz") || "UTC"; }

function localParts(iso, options) {
  if (!iso) { return ""; }
  return new Intl.DateTimeFormat("en-GB", Object.assign({ timeZone: zone(), hourCycle: "h23" }, options))
    .format(new Date(iso));
}

function clock(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  var mmss = String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
  return h ? h + ":" + mmss : mmss;
}

// ---- sound and notifications: a Web Audio beep (no file, nothing outside the CSP) and a Notification
var sound = { on: window.localStorage.getItem("sound") !== "off", context: null };

function beep(times) {
  if (!sound.on || !window.AudioContext) { return false; }
  try {
    sound.context = sound.context || new window.AudioContext();
    if (sound.context.resume) { sound.context.resume(); }
    for (var i = 0; i < (times || 1); i++) {
      var osc = sound.context.createOscillator(), gain = sound.context.createGain();
      var start = sound.context.currentTime + i * 0.3;
      osc.type = "square";
      osc.frequency.value = 880;
      gain.gain.value = 0.2;
      osc.connect(gain);
      gain.connect(sound.context.destination);
      osc.start(start);
      osc.stop(start + 0.18);
    }
    return true;
  } catch (error) {
    return false;      // a browser that refuses audio still shows the alert
  }
}

function announce(title, body, tag) {
  var announcer = document.getElementById("announcer");
  if (announcer) { announcer.textContent = title + ": " + body; }
  beep(title.indexOf("EMERGENCY") === 0 ? 3 : 1);
  if (sound.on && window.Notification && window.Notification.permission === "granted") {
    try { new window.Notification(title, { body: body, tag: tag }); } catch (error) { /* shown on the page anyway */ }
  }
}

function soundButton() {
  var button = document.getElementById("sound-on");
  if (!button) { return; }
  var show = function () {
    button.textContent = "Sound and notifications: " + (sound.on ? "on" : "off");
    button.setAttribute("aria-pressed", sound.on ? "true" : "false");
  };
  show();
  button.addEventListener("click", function () {
    sound.on = !sound.on;
    window.localStorage.setItem("sound", sound.on ? "on" : "off");
    if (sound.on) {
      beep(1);        // a click is the gesture browsers need before they play sound
      if (window.Notification && window.Notification.permission === "default") { window.Notification.requestPermission(); }
    }
    show();
  });
  // browsers start audio only after a gesture: the first key or click on the page unlocks it
  var unlock = function () {
    if (sound.on && window.AudioContext && !sound.context) {
      try { sound.context = new window.AudioContext(); } catch (error) { sound.context = null; }
    }
  };
  document.addEventListener("keydown", unlock, { once: true });
  document.addEventListener("click", unlock, { once: true });
}

// ---- the alerts badge: polled on every page (one indexed count), a beep when a new alert appears
function alertsBadge() {
  var badge = document.getElementById("alert-badge");
  if (!badge) { return; }
  var newest = Number(badge.getAttribute("data-newest") || 0);
  var poll = Number(badge.getAttribute("data-poll-ms") || 5000);
  var onAlertsPage = document.getElementById("alerts-table") !== null;
  function check() {
    fetch(badge.getAttribute("data-summary"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (summary) {
        if (!summary) { return; }
        badge.textContent = summary["new"] ? summary["new"] + " new" : "";
        badge.className = summary["new"] ? "badge on" : "badge";
        if (summary.newest > newest) {
          newest = summary.newest;
          announce("New alert", summary["new"] + " new alert(s) on the lines: see Alerts", "alert-" + newest);
          if (onAlertsPage) { refreshAlerts(); }
        }
      })
      .catch(function () { /* the next poll tries again */ })
      .finally(function () { window.setTimeout(check, poll); });
  }
  window.setTimeout(check, poll);
}

// The alerts page takes the new list without a reload (so a half-written note is kept: only the table changes).
function refreshAlerts() {
  var table = document.getElementById("alerts-table");
  if (!table || table.contains(document.activeElement)) { return; }
  fetch(window.location.href, { credentials: "same-origin" })
    .then(function (response) { return response.text(); })
    .then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("alerts-table");
      if (fresh) { table.replaceWith(document.importNode(fresh, true)); }
    });
}

var LATEST = 160;     // the board shows a live call's latest words; its page has them all

function latest(words) { return words && words.length > LATEST ? "…" + words.slice(-LATEST) : words; }

// ---- the board: one row template, rows live in the "In progress" table until the call ends
function isLive(call) { return !call.ended_at && call.route !== "reject"; }

// Every value goes in with textContent: transcripts and reasons are caller-controlled text, never HTML.
function fill(row, call, detailUrl, pinned) {
  row.id = "call-" + call.sid;
  row.setAttribute("data-sid", call.sid);
  row.setAttribute("data-created", call.created_at || "");
  var time = row.querySelector(".c-time time");
  time.setAttribute("datetime", call.created_at || "");
  time.textContent = localParts(call.created_at, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  text(row, ".c-date", localParts(call.created_at, { day: "2-digit", month: "short" }));
  text(row, ".c-elapsed", pinned ? clock((Date.now() - Date.parse(call.created_at)) / 1000)
    : (call.duration == null ? "" : clock(call.duration)));
  text(row, ".c-phase", pinned ? call.phase : "");
  var link = row.querySelector(".c-from a");
  link.textContent = call.from;
  link.setAttribute("href", detailUrl.replace("SID", encodeURIComponent(call.sid)));
  text(row, ".c-transcript .final", pinned ? latest(call.transcript) : call.transcript);
  text(row, ".c-transcript .partial", call.partial_transcript);
  var reading = call.reading || "";
  if (call.operator_class) { reading += " → " + call.operator_class; }
  text(row, ".c-class", reading);
  row.querySelector(".c-alarm").hidden = !call.emergency;
  row.classList.toggle("emergency", Boolean(call.emergency));
  text(row, ".c-digit", call.digit);
  text(row, ".c-route", call.route);
  text(row, ".c-status", call.status);
  fillFlags(row.querySelector(".c-flags ul"), call.flags || []);
  fillClaim(row, call);
  row.querySelectorAll("input[name=number]").forEach(function (input) { input.value = call.from; });
  row.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.setAttribute("data-confirm", "Add " + call.from + " to the spam list? Its next call will be rejected without being answered.");
  });
  row.classList.add("changed");
  window.setTimeout(function () { row.classList.remove("changed"); }, 1500);
}

function fillFlags(list, flags) {
  list.replaceChildren();
  flags.forEach(function (f) {
    var item = document.createElement("li");
    item.className = "flag flag-" + f.flag;
    item.title = f.reason;
    var name = document.createElement("b");
    name.textContent = f.flag;
    item.append(name, " " + f.reason);
    list.append(item);
  });
}

function fillClaim(row, call) {
  var me = document.body.getAttribute("data-actor");
  text(row, ".c-claimed", call.claimed_by ? "Taken by " + call.claimed_by : "");
  row.classList.toggle("claimed", Boolean(call.claimed_by));
  row.querySelectorAll("form.claim-form, form.release-form").forEach(function (form) {
    form.setAttribute("action", form.getAttribute("action").replace(/\/calls\/[^/]+\//, "/calls/" + encodeURIComponent(call.sid) + "/"));
  });
  var claim = row.querySelector("form.claim-form"), release = row.querySelector("form.release-form");
  if (claim) { claim.hidden = Boolean(call.claimed_by); }      // finished rows rendered by the server have none
  if (release) { release.hidden = !(call.claimed_by && call.claimed_by === me); }
}

function tick() {
  var now = Date.now();
  document.querySelectorAll("#live-calls tr.call").forEach(function (row) {
    var created = Date.parse(row.getAttribute("data-created"));
    if (!isNaN(created)) { text(row, ".c-elapsed", clock((now - created) / 1000)); }
  });
}

function liveBoard(table) {
  var source = new EventSource(table.getAttribute("data-events"));
  var state = document.getElementById("live-state");
  var template = document.getElementById("row-template");
  var detailUrl = table.getAttribute("data-detail");
  var done = table.tBodies[0];
  var pinnedTable = document.getElementById("live-calls");
  var pinned = pinnedTable ? pinnedTable.tBodies[0] : null;
  var announced = {};
  document.querySelectorAll("#live-calls tr.call.emergency").forEach(function (row) { announced[row.getAttribute("data-sid")] = true; });
  source.addEventListener("open", function () { state.textContent = "live"; state.className = "live-state on"; });
  source.addEventListener("error", function () { state.textContent = "reconnecting…"; state.className = "live-state off"; });
  source.addEventListener("call", function (event) {
    var call = JSON.parse(event.data);
    var row = document.getElementById("call-" + call.sid);
    if (call.matches === false) {         // it no longer fits this page's filter (or never did)
      if (row) { row.remove(); }
      counts();
      return;
    }
    var live = pinned !== null && isLive(call);
    var home = live ? pinned : done;
    if (!row) { row = template.content.firstElementChild.cloneNode(true); }
    fill(row, call, detailUrl, live);
    if (row.parentNode !== home || (live && call.emergency && home.firstElementChild !== row)) {
      var first = live && !call.emergency ? home.querySelector("tr.call:not(.emergency)") : home.firstElementChild;
      home.insertBefore(row, first);
    }
    var empty = document.querySelector(".empty");
    if (empty && !live) { empty.remove(); }
    counts();
    if (live && call.emergency && !announced[call.sid]) {
      announced[call.sid] = true;
      window.boardAlerted = (window.boardAlerted || []).concat([{ sid: call.sid, at: Date.now() }]);
      announce("EMERGENCY call from " + call.from, (call.transcript || call.partial_transcript || "no words yet").slice(0, 140), call.sid);
    }
  });
  if (pinned) { tick(); window.setInterval(tick, 1000); }
}

function counts() {
  var count = document.getElementById("live-count");
  if (!count) { return; }
  var rows = document.querySelectorAll("#live-calls tr.call").length;
  count.textContent = String(rows);
  var empty = document.querySelector(".empty-live");
  if (empty) { empty.hidden = rows > 0; }
}

// The charts page redraws its charts from the server every minute (and whenever the tab comes back).
function liveCharts(box) {
  var refresh = function () {
    fetch(box.getAttribute("data-src"), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").body;
        box.replaceChildren.apply(box, Array.from(fresh.childNodes).map(function (node) { return document.importNode(node, true); }));
      });
  };
  window.setInterval(refresh, Number(box.getAttribute("data-every-ms") || 60000));
}

document.addEventListener("DOMContentLoaded", function () {
  soundButton();
  alertsBadge();
  var table = document.getElementById("calls");
  if (table && table.getAttribute("data-events")) { liveBoard(table); }
  var charts = document.getElementById("charts");
  if (charts && charts.getAttribute("data-src")) { liveCharts(charts); }
});
