"use strict";
// A call's page: its turns, entities, tactics and status keep coming while the caller is on the line.
// Every value goes in with textContent: transcripts are caller-controlled text, never HTML.

function el(tag, className, value) {
  var node = document.createElement(tag);
  if (className) { node.className = className; }
  if (value !== undefined) { node.textContent = value; }
  return node;
}

function clock(seconds) {
  var whole = Math.floor(seconds);
  var rest = whole % 60;
  return Math.floor(whole / 60) + ":" + (rest < 10 ? "0" : "") + rest;
}

function showTurns(root, turns) {
  var list = root.querySelector("#turns");
  if (list.children.length === (turns || []).length) { return; }   // unchanged: nothing re-announced
  list.replaceChildren();
  (turns || []).forEach(function (turn) {
    var item = el("li");
    if (turn.at !== null && turn.at !== undefined) { item.append(el("span", "at", clock(turn.at)), " "); }
    item.append(el("span", "said", turn.text));
    list.append(item);
  });
  root.querySelector("#transcript .final").textContent = (turns || []).length ? "" : "—";
}

function showEntities(root, entities) {
  root.querySelectorAll("#entities ul.entities").forEach(function (list) {
    var items = (entities || {})[list.getAttribute("data-kind")] || [];
    list.replaceChildren();
    items.forEach(function (e) {
      var item = el("li", "entity" + (e.uncertain ? " uncertain" : ""));
      item.title = e.why;
      item.append(el("span", "e-text", e.text), " ",
                  el("span", "e-sure", (e.uncertain ? "uncertain, " : "") + Math.round(e.confidence * 100) + "% sure"),
                  " ", el("small", "e-why", e.why));
      list.append(item);
    });
    if (!items.length) { list.append(el("li", "none", "—")); }
  });
}

function showTactics(root, tactics, threat) {
  var list = root.querySelector("#tactics");
  list.replaceChildren();
  (tactics || []).forEach(function (t) {
    var item = el("li");
    item.append(el("b", null, t.tactic.replace("_", " ")), " ", el("span", "t-meaning", t.meaning), ": ");
    t.words.forEach(function (word, i) { item.append(el("q", null, word), i + 1 < t.words.length ? ", " : ""); });
    list.append(item);
  });
  if (!(tactics || []).length) { list.append(el("li", "none", "none heard")); }
  var badge = root.querySelector("#threat");
  badge.className = "threat threat-" + threat.level;
  badge.querySelector(".t-level").textContent = threat.level;
  badge.querySelector(".t-why").textContent = "(" + threat.why + ")";
}

function liveBrief(root) {
  var sid = root.getAttribute("data-sid");
  var source = new EventSource(root.getAttribute("data-events"));
  source.addEventListener("call", function (event) {
    var call = JSON.parse(event.data);
    if (call.sid !== sid) { return; }
    showTurns(root, call.turns);
    root.querySelector("#transcript .partial").textContent = call.partial_transcript || "";
    root.querySelector("#call-status").textContent = call.status;
    showEntities(root, call.entities);
    if (call.threat) { showTactics(root, call.tactics, call.threat); }
  });
}

document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("call-brief");
  if (root && root.getAttribute("data-events")) { liveBrief(root); }
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
});
