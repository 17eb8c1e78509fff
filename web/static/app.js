// Control room page script: confirmations on destructive forms, and the live calls table (server-sent events).
"use strict";

document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) { event.preventDefault(); }
});

function text(row, selector, value) {
  var node = row.querySelector(selector);
  if (node) { node.textContent = value == null ? "" : String(value); }
}

// Every value goes in with textContent: transcripts and reasons are caller-controlled text, never HTML.
function fill(row, call, detailUrl) {
  row.id = "call-" + call.sid;
  row.setAttribute("data-sid", call.sid);
  var created = call.created_at || "";
  var time = row.querySelector(".c-time time");
  time.setAttribute("datetime", created);
  time.textContent = created.slice(11, 19);
  text(row, ".c-date", created.slice(0, 10));
  var link = row.querySelector(".c-from a");
  link.textContent = call.from;
  link.setAttribute("href", detailUrl.replace("SID", encodeURIComponent(call.sid)));
  text(row, ".c-transcript .final", call.transcript);
  text(row, ".c-transcript .partial", call.partial_transcript);
  var reading = call.reading || "";
  if (call.operator_class) { reading += " → " + call.operator_class; }
  text(row, ".c-class", reading);
  text(row, ".c-digit", call.digit);
  text(row, ".c-route", call.route);
  text(row, ".c-status", call.status);
  var list = row.querySelector(".c-flags ul");
  list.replaceChildren();
  (call.flags || []).forEach(function (f) {
    var item = document.createElement("li");
    item.className = "flag flag-" + f.flag;
    item.title = f.reason;
    var name = document.createElement("b");
    name.textContent = f.flag;
    item.append(name, " " + f.reason);
    list.append(item);
  });
  row.querySelectorAll("input[name=number]").forEach(function (input) { input.value = call.from; });
  row.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.setAttribute("data-confirm", "Add " + call.from + " to the spam list? Its next call will be rejected without being answered.");
  });
  row.classList.add("changed");
  window.setTimeout(function () { row.classList.remove("changed"); }, 1500);
}

function live(table) {
  var source = new EventSource(table.getAttribute("data-events"));
  var state = document.getElementById("live-state");
  var template = document.getElementById("row-template");
  var detailUrl = table.getAttribute("data-detail");
  var body = table.tBodies[0];
  source.addEventListener("open", function () { state.textContent = "live"; state.className = "live-state on"; });
  source.addEventListener("error", function () { state.textContent = "reconnecting…"; state.className = "live-state off"; });
  source.addEventListener("call", function (event) {
    var call = JSON.parse(event.data);
    var row = document.getElementById("call-" + call.sid);
    if (call.matches === false) {         // it no longer fits this page's filter (or never did)
      if (row) { row.remove(); }
      return;
    }
    if (!row) {
      row = template.content.firstElementChild.cloneNode(true);
      body.prepend(row);
      var empty = document.querySelector(".empty");
      if (empty) { empty.remove(); }
    }
    fill(row, call, detailUrl);
  });
}

// A call's own page: its words and status keep coming while the caller is still on the line.
function liveCall(transcript) {
  var source = new EventSource(transcript.getAttribute("data-events"));
  var sid = transcript.getAttribute("data-sid");
  source.addEventListener("call", function (event) {
    var call = JSON.parse(event.data);
    if (call.sid !== sid) { return; }
    text(transcript, ".final", call.transcript || "—");
    text(transcript, ".partial", call.partial_transcript);
    text(document, "#call-status", call.status);
  });
}

document.addEventListener("DOMContentLoaded", function () {
  var table = document.getElementById("calls");
  if (table && table.getAttribute("data-events")) { live(table); }
  var transcript = document.getElementById("transcript");
  if (transcript && transcript.getAttribute("data-events")) { liveCall(transcript); }
});
