// The operator page: polls /api/status every two seconds and draws what it says. No framework,
// no build step. A token given as #token=... in the address is sent as a bearer token.
"use strict";

const token = new URLSearchParams(location.hash.slice(1)).get("token");
const svgNS = "http://www.w3.org/2000/svg";

function $(id) { return document.getElementById(id); }
function text(id, value) { $(id).textContent = value; }
function number(n) { return n === null || n === undefined ? "–" : n.toLocaleString("en-US"); }
function ms(n) { return n === null || n === undefined ? "–" : (n < 10 ? n.toFixed(2) : n.toFixed(0)); }
function ago(seconds) {
  if (seconds < 120) return Math.round(seconds) + " s ago";
  if (seconds < 7200) return Math.round(seconds / 60) + " min ago";
  return Math.round(seconds / 3600) + " h ago";
}

function chart(svg, series, lines) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const width = 600, height = 160, pad = 14;
  let max = 0;
  for (const line of lines) for (const p of series) { const v = p[line.key]; if (v != null && v > max) max = v; }
  if (max <= 0) max = 1;
  const first = series.length ? series[0].atMs : 0, last = series.length ? series[series.length - 1].atMs : 1;
  const span = Math.max(1, last - first);
  for (const line of lines) {
    const points = series.filter(p => p[line.key] != null).map(p =>
      ((p.atMs - first) / span * (width - 2)).toFixed(1) + "," + (height - pad - p[line.key] / max * (height - 2 * pad)).toFixed(1));
    if (points.length === 1) points.push((width - 2) + "," + points[0].split(",")[1]);
    const polyline = document.createElementNS(svgNS, "polyline");
    polyline.setAttribute("class", line.cls);
    polyline.setAttribute("points", points.join(" "));
    svg.appendChild(polyline);
  }
  const label = document.createElementNS(svgNS, "text");
  label.setAttribute("x", "4"); label.setAttribute("y", "11");
  label.textContent = "max " + (max < 10 ? max.toFixed(2) : Math.round(max));
  svg.appendChild(label);
  svg.setAttribute("data-points", String(series.length));
}

function render(s) {
  const badge = $("ready");
  badge.dataset.state = s.ready ? "ready" : "not-ready";
  badge.textContent = s.ready ? "ready" : "not ready: " + s.notReadyReason;
  text("updated", "updated " + new Date(s.nowMs).toLocaleTimeString() + (s.echo ? " · echo mode (no ledger)" : ""));
  text("head-position", number(s.headPosition));
  text("verified-position", s.verifiedPosition == null ? "not verified" : "verified up to " + number(s.verifiedPosition));
  if (s.lastCheckpoint) {
    text("checkpoint-position", number(s.lastCheckpoint.position));
    text("checkpoint-age", "signed " + ago(s.lastCheckpoint.ageSeconds));
  } else {
    text("checkpoint-position", "none");
    text("checkpoint-age", "");
  }
  text("transfers-committed", number(s.transfersCommitted));
  text("transfers-refused", number(s.transfersRefused) + " refused");
  text("latency", ms(s.p50Ms) + " / " + ms(s.p99Ms) + " ms");
  text("sessions", number(s.sessions));
  text("connections", number(s.openConnections) + " connections");
  text("bcrypt-queue", number(s.bcryptQueueDepth));
  text("bcrypt-limit", "of " + number(s.bcryptQueueLimit) + " allowed");
  chart($("throughput-chart"), s.series, [{ key: "transfersPerSecond", cls: "throughput" }]);
  chart($("latency-chart"), s.series, [{ key: "p50Ms", cls: "p50" }, { key: "p99Ms", cls: "p99" }]);

  const alarms = $("alarms");
  alarms.replaceChildren();
  if (s.alarms.length === 0) {
    const li = document.createElement("li"); li.className = "muted"; li.textContent = "none"; alarms.appendChild(li);
  }
  for (const alarm of s.alarms) {
    const li = document.createElement("li");
    li.className = "alarm";
    li.dataset.alarmId = alarm.id;
    li.append(alarm.id + " · " + alarm.kind + " · raised " + new Date(alarm.raisedAtMs).toLocaleString() + ": " + alarm.evidence + " — ");
    const code = document.createElement("code"); code.textContent = alarm.acknowledgeCommand; li.appendChild(code);
    alarms.appendChild(li);
  }

  const body = $("rejections").tBodies[0];
  body.replaceChildren();
  for (const reason of Object.keys(s.rejections).sort()) {
    const row = body.insertRow();
    row.insertCell().textContent = reason;
    row.insertCell().textContent = number(s.rejections[reason]);
  }
  const v = s.verification;
  let verification = v.running ? "running: " + number(v.progressEntries) + " entries checked" : "";
  if (v.lastFinishedAtMs != null) {
    verification += (verification ? "; " : "") + "last finished " + new Date(v.lastFinishedAtMs).toLocaleString() + ": " +
      number(v.lastEntriesChecked) + " entries, " + v.lastViolations + " violations, " + v.lastSeconds + " s";
  }
  text("verification", verification || "none yet since the server started");
}

async function poll() {
  try {
    const response = await fetch("/api/status", { headers: token ? { Authorization: "Bearer " + token } : {}, cache: "no-store" });
    if (!response.ok) throw new Error("status " + response.status);
    render(await response.json());
  } catch (error) {
    const badge = $("ready");
    badge.dataset.state = "down";
    badge.textContent = "no answer from the server (" + error.message + ")";
  }
  setTimeout(poll, 2000);
}
poll();
