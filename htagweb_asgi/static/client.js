/* htagweb-asgi client: connects an htag page to its user process.
 *
 * Configured by the JSON block #htagweb-config the host puts in the page:
 *   sub       the path the server served this page at, below its mount prefix
 *   prefix    the mount prefix as the server saw it (used only if `sub` does not match)
 *   base      the App's path below the prefix ("" for the root App)
 *   instance  the App instance this page was rendered from
 *   transport "auto": a websocket, else (it cannot be opened) Server-Sent Events for pushes
 *             and POST for interactions; "websocket"; "sse"; "http" (POST, no pushes)
 *   csrf      (POST) the token the host expects in the x-htagweb-csrf header
 *   parano    true: interactions, replies and pushes are encrypted end to end with the user's
 *             process (parano.js); where this browser cannot, the page says so and sends nothing
 *   codes     the close codes by name (htagweb_asgi/protocol/codes.py: the only table)
 *   push      the number of the App's last push when the page was rendered
 *
 * This file is the part every page has: the interactions waiting for an answer, what comes
 * back, reconnection, what the page shows. The transports are scripts of their own, linked
 * only where the App may use them (websocket.js, http.js), and so is parano.js; they
 * register in window.htagweb and call the `core` below.
 *
 * Exactly once: every interaction gets an id (this page's random token, and a number) and
 * stays queued until its reply, whose id says which it answers; after a cut the page sends
 * the unanswered ones again, oldest first, and the process answers a resend without running
 * it twice. Pushes are numbered: a page that comes back says which one it has last and gets
 * the ones it missed (or one full rendering of the App). A reply names the last push made
 * before it, and is applied once that push is in (pushes travel apart over SSE).
 *
 * URLs are derived from location.pathname, never hard-coded: the page keeps working when the
 * host is mounted under a prefix or behind a proxy that strips one.
 *
 * What the page does on a close code from the host (also the `code` of HTTP error replies):
 *   EXITED         the App called exit()            → reload (a fresh App)
 *   NO_PROCESS     no process for this page         → reload (with back-off), then say once
 *                                                      that the App restarted
 *   TIMED_OUT      interaction timed out            → message; the next reload gets a fresh one
 *   EXPIRED        ended after inactivity           → the next interaction reloads
 *   CRASHED        the process ended unexpectedly   → message with a reload link
 *   CHANNEL_BROKEN the encrypted channel failed     → message with a reload link (parano)
 *   UNAVAILABLE    the server cannot serve the App  → message with a reload link
 *   REPLACED       another page of the session opened the App with other arguments
 *                                                   → message with a reload link (a reload
 *                                                     would replace the other page in turn)
 *   TOO_MANY       too many open connections        → message with a reload link
 *   LIMIT          past its memory or CPU limit     → the reason, with a reload link
 *   UNSUPPORTED_DATA, INVALID_PAYLOAD, POLICY_VIOLATION, MESSAGE_TOO_BIG
 *                  a bad message                    → message (a bug, not a network problem)
 * Any other end is a cut: the page reconnects after a delay drawn at random below a ceiling
 * that doubles per failed attempt (250 ms up to 8 s: "full jitter"), or after the delay the
 * server asked for ({"htagweb": {"reconnect": {"after_ms": N}}}, a draining server).
 * It shows "Reconnecting…" after a second, says it cannot reach its server after 5 failed
 * attempts in a row, and after 12 reloads if the server answers (the failsafe).
 */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("htagweb-config").textContent);
  var CODES = cfg.codes;
  var pathname = window.location.pathname;
  var prefix = pathname.slice(-cfg.sub.length) === cfg.sub
    ? pathname.slice(0, pathname.length - cfg.sub.length)
    : cfg.prefix;
  var endpoint = prefix + cfg.base + "/_/";
  var RELOADS = "htagweb.reloads";
  var RESTARTED = "htagweb.restarted";  // set before a NO_PROCESS reload: say it once after
  var NO_WEBSOCKET = "htagweb.nows:" + endpoint;  // when a websocket failed here, SSE worked
  var NO_WEBSOCKET_FOR_MS = 10 * 60 * 1000;
  var BASE_MS = 250;
  var CAP_MS = 8000;
  var MAX_HINT_MS = 5 * 60 * 1000;
  var READY_WITHIN_MS = 6000;  // a connection that says nothing for longer has failed
  var RECONNECTING_AFTER_MS = 1000;
  var CANNOT_CONNECT_AFTER = 5;  // failed attempts in a row before the page says so
  var FAILSAFE_AFTER = 12;  // failed attempts in a row before a reload (if the server answers)
  var HOLD_MAX_MS = 3000;  // a reply waits this long at most for the pushes made before it
  var MAX_QUEUED = 100;
  var H = {transports: {}, parano: null};  // window.htagweb: the scripts register here

  var started = false;
  var expired = false;
  var finished = false;
  var cookiePending = Promise.resolve();  // a new session cookie being fetched (rotation)

  var page = randomToken();  // this page load: every interaction's id starts with it
  var nextNumber = 1;
  var pending = [];  // interactions not answered yet, oldest first: {iid, text}
  var held = [];  // replies waiting for the pushes made before them
  var holdTimer = null;
  var lastPush = Number(cfg.push) || 0;
  var renderAll = false;  // a reply went ahead of its pushes: ask for a full rendering

  var mode = null;  // "websocket", "sse" or "http"
  var channel = null;  // the transport that brings pushes (websocket: interactions too)
  var sender = null;  // the transport that sends interactions
  var up = false;
  var everUp = false;
  var failures = 0;  // failed attempts in a row
  var hintMs = 0;
  var retryTimer = null;
  var reconnectingTimer = null;

  function randomToken() {
    var bytes = new Uint8Array(8);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  // -- what the page shows -------------------------------------------------------------------
  var BOXES = ["htagweb-error", "htagweb-offline", "htagweb-reconnecting", "htagweb-restarted"];

  function setOnline(online) {
    if (document.body) document.body.classList.toggle("htagoff", !online);
  }

  function banner(id, role, css) {
    var box = document.createElement("div");
    box.id = id;
    box.setAttribute("role", role);
    box.style.cssText = "position:fixed;z-index:2147483647;" + css;
    return box;
  }

  function showError(text, withReload) {
    var box = document.getElementById("htagweb-error");
    if (!box) {
      box = banner("htagweb-error", "alert", "left:8px;right:8px;bottom:8px;max-height:40vh;" +
        "overflow:auto;background:#fee;color:#600;border:1px solid #c00;padding:8px;" +
        "font:13px monospace;");
      var close = document.createElement("button");
      close.textContent = "\u00d7";
      close.title = "Dismiss";
      close.style.cssText = "float:right";
      close.onclick = function () { box.remove(); };
      box.appendChild(close);
      box.appendChild(document.createElement("pre"));
      document.body.appendChild(box);
    }
    box.querySelector("pre").textContent = String(text);
    if (withReload && !box.querySelector("a")) {
      var link = document.createElement("a");
      link.href = "";
      link.textContent = "Reload the page";
      box.appendChild(link);
    }
  }

  function showReconnecting(shown) {
    // A connection that worked is down: the page says so after a moment (a blip shows nothing).
    var box = document.getElementById("htagweb-reconnecting");
    if (!shown || document.getElementById("htagweb-offline")) {
      if (box) box.remove();
      return;
    }
    if (box || !document.body) return;
    box = banner("htagweb-reconnecting", "status", "left:50%;top:8px;transform:translateX(-50%);" +
      "background:#eef4ff;color:#124;border:1px solid #69c;border-radius:12px;padding:4px 12px;" +
      "font:13px sans-serif;");
    box.textContent = "Reconnecting\u2026";
    document.body.appendChild(box);
  }

  function showCannotConnect(shown) {
    // The page keeps trying meanwhile; the notice goes away when it connects again.
    var box = document.getElementById("htagweb-offline");
    if (!shown) {
      if (box) box.remove();
      return;
    }
    showReconnecting(false);
    if (box || !document.body) return;
    box = banner("htagweb-offline", "status", "left:8px;right:8px;top:8px;background:#fff8e0;" +
      "color:#533;border:1px solid #c90;padding:8px;font:14px sans-serif;");
    box.appendChild(document.createTextNode(
      "This page cannot reach its server. It keeps trying; you can also "));
    var link = document.createElement("a");
    link.href = "";
    link.textContent = "reload the page";
    box.appendChild(link);
    box.appendChild(document.createTextNode("."));
    document.body.appendChild(box);
    console.error("htagweb: the connection to " + endpoint + " fails (" + mode + "). If you run " +
      "this server: is a websocket library installed (uvicorn needs 'uvicorn[standard]' or " +
      "'websockets')? Does a proxy buffer or block it?");
  }

  function apply(actions) {
    // htag may replace <body>: our boxes and the offline class stay.
    var boxes = BOXES.map(function (id) { return document.getElementById(id); });
    var offline = document.body && document.body.classList.contains("htagoff");
    try {
      window.action(actions);
    } finally {
      boxes.forEach(function (box) { if (box && !box.isConnected) document.body.appendChild(box); });
      if (offline) document.body.classList.add("htagoff");
    }
  }

  window.error = function (text) {  // htag's _error() reports through window.error
    showError(text === null ? "Communication error with the server." : text, false);
  };

  // -- ends ----------------------------------------------------------------------------------
  function firstStart() {
    if (started) return;
    started = true;
    window.start();
    if (window.sessionStorage.getItem(RESTARTED)) {
      window.sessionStorage.removeItem(RESTARTED);
      showRestarted();
    }
  }

  function showRestarted() {
    // The process of the page was gone (its server restarted, or the node serving it
    // stopped): this page is a fresh App; the session (a login) is kept.
    var box = banner("htagweb-restarted", "status", "left:8px;right:8px;top:8px;" +
      "background:#eef6ff;color:#234;border:1px solid #69c;padding:8px;font:14px sans-serif;");
    var close = document.createElement("button");
    close.textContent = "\u00d7";
    close.title = "Dismiss";
    close.style.cssText = "float:right";
    close.onclick = function () { box.remove(); };
    box.appendChild(close);
    box.appendChild(document.createTextNode(
      "The application restarted: what this page showed before is gone."));
    document.body.appendChild(box);
  }

  function reloadSoon() {
    // Back off when reloads keep landing on a missing process (cookies refused, ...).
    var count = Number(window.sessionStorage.getItem(RELOADS) || 0);
    window.sessionStorage.setItem(RELOADS, String(count + 1));
    if (count >= 6) {
      showError("This page cannot reach its application (are cookies enabled?).", true);
      return;
    }
    window.setTimeout(function () {
      cookiePending.then(function () { window.location.reload(); });
    }, count ? 500 * Math.pow(2, count) : 0);
  }

  function isOneOf(code, names) {
    return names.some(function (name) { return code === CODES[name]; });
  }

  function ended(code, reason) {
    // Returns true when the page must not reconnect.
    if (code === CODES.EXITED) { finished = true; window.location.reload(); return true; }
    if (code === CODES.NO_PROCESS) {
      finished = true;
      window.sessionStorage.setItem(RESTARTED, "1");
      reloadSoon();
      return true;
    }
    if (code === CODES.EXPIRED) { expired = true; return true; }
    if (isOneOf(code, ["TIMED_OUT", "CRASHED", "CHANNEL_BROKEN", "UNAVAILABLE", "REPLACED",
                       "TOO_MANY", "LIMIT"])) {
      finished = true;
      showError(reason || "The application stopped.", true);
      return true;
    }
    if (isOneOf(code, ["UNSUPPORTED_DATA", "INVALID_PAYLOAD", "POLICY_VIOLATION",
                       "MESSAGE_TOO_BIG"])) {
      finished = true;
      showError("Protocol error: " + (reason || code), true);
      return true;
    }
    return false;
  }

  function channelFailed(error) {
    // Returns true when the transport must close its connection (the channel is broken).
    var parano = H.parano;
    if (!(parano && error instanceof parano.ChannelError)) {
      console.error(error);  // not the channel's fault (e.g. an update of a vanished element)
      return false;
    }
    if (finished) return false;
    finished = true;
    showError("The encrypted channel to the application failed: " + error.message + ".", true);
    return true;
  }

  // -- what comes back -----------------------------------------------------------------------
  function parse(data, quiet) {
    try {
      return JSON.parse(data);
    } catch (e) {
      if (!quiet) showError("Unreadable message from the server.", true);
      return null;
    }
  }

  function receive(message) {
    if (typeof message.push === "number") {
      if (message.push <= lastPush && !renderAll) return;  // had it (sent again after a cut)
      lastPush = message.push;
      renderAll = false;
      apply(message.message);
      releaseHeld();
    } else if (typeof message.reply === "string") {
      var index = pending.findIndex(function (entry) { return entry.iid === message.reply; });
      if (index < 0) return;  // answered already: this is the answer to a resend
      pending.splice(index, 1);
      held.push(message);
      releaseHeld();
    }
  }

  function releaseHeld() {
    while (held.length && (held[0].after <= lastPush || mode === "http")) {
      apply(held.shift().message);
    }
    window.clearTimeout(holdTimer);
    holdTimer = held.length ? window.setTimeout(forceHeld, HOLD_MAX_MS) : null;
  }

  function forceHeld() {
    // The pushes a reply waits for do not come: apply it, and have the whole App rendered
    // again (a push older than the reply would otherwise undo some of it).
    holdTimer = null;
    while (held.length) apply(held.shift().message);
    renderAll = true;
    if (channel && up) channel.restart();
  }

  // -- connections -----------------------------------------------------------------------------
  function backoff(attempts) {
    var hinted = hintMs;
    hintMs = 0;
    if (hinted > 0) return hinted + Math.random() * Math.min(hinted, CAP_MS);
    return Math.random() * Math.min(CAP_MS, BASE_MS * Math.pow(2, attempts));  // full jitter
  }

  function hint(reconnect) {
    var after = Number(reconnect && reconnect.after_ms);
    hintMs = after > 0 ? Math.min(after, MAX_HINT_MS) : 0;
  }

  function becameUp() {
    up = true;
    everUp = true;
    failures = 0;
    window.clearTimeout(reconnectingTimer);
    reconnectingTimer = null;
    showReconnecting(false);
    showCannotConnect(false);
    window.sessionStorage.removeItem(RELOADS);
    setOnline(true);
  }

  function wentDown(wasUp) {
    up = false;
    setOnline(false);
    if (wasUp) {
      failures = 0;
      if (!reconnectingTimer) {
        reconnectingTimer = window.setTimeout(function () {
          reconnectingTimer = null;
          if (!up && !finished && !expired) showReconnecting(true);
        }, RECONNECTING_AFTER_MS);
      }
      return;
    }
    failures += 1;
    if (failures >= CANNOT_CONNECT_AFTER) showCannotConnect(true);
    if (failures % FAILSAFE_AFTER === 0) failsafe();
  }

  function failsafe() {
    // Reload when the server answers (a fresh page restarts everything; the App's state is in
    // its process), not while it cannot be reached (the browser would show its error page).
    window.fetch(prefix + "/_/client.js", {method: "HEAD", cache: "no-store"})
      .then(function (response) { if (response.status < 500 && !finished) reloadSoon(); })
      .catch(function () { /* unreachable: keep trying */ });
  }

  function channelUp(name) {
    becameUp();
    if (name === "events" && cfg.transport === "auto") {
      window.sessionStorage.setItem(NO_WEBSOCKET, String(Date.now()));
    }
    releaseHeld();
    firstStart();
  }

  function channelLost(name, wasUp, code, reason) {
    if (finished) return;
    if (ended(code, reason)) {  // no reconnection: nothing says "Reconnecting…"
      up = false;
      setOnline(false);
      return;
    }
    wentDown(wasUp);
    if (name === "websocket" && !everUp && cfg.transport === "auto" && H.transports.events) {
      fallBack();
      return;
    }
    window.clearTimeout(retryTimer);
    retryTimer = window.setTimeout(reopen, backoff(failures));
  }

  function reopen() {
    retryTimer = null;
    cookiePending.then(function () { if (!finished && !up) channel.open(); });
  }

  function newCsrf(response) {
    // The new session's CSRF token, when an answer names it (the session rotated).
    var token = response.ok && response.headers.get("x-htagweb-csrf");
    if (token) cfg.csrf = token;
  }

  function newCookie(token) {
    // The App rotated the session (a login): a websocket cannot set cookies, so the page
    // trades the token for the new cookie. Reconnections and reloads wait for it.
    cookiePending = window.fetch(endpoint + "session", {
      method: "POST",
      body: token,
      credentials: "same-origin",
    }).then(function (response) {
      newCsrf(response);
      if (!response.ok) console.error("htagweb: the new session cookie was refused");
    }).catch(function () { console.error("htagweb: the new session cookie was not set"); });
  }

  window.addEventListener("online", function () {  // the browser says the network is back
    if (retryTimer) {
      window.clearTimeout(retryTimer);
      reopen();
    }
  });

  function websocketFailedHere() {
    var when = Number(window.sessionStorage.getItem(NO_WEBSOCKET) || 0);
    return Date.now() - when < NO_WEBSOCKET_FOR_MS;
  }

  function useWebsocket() {
    mode = "websocket";
    channel = sender = H.transports.websocket(core);
    channel.open();
  }

  function useEvents() {
    mode = "sse";
    channel = H.transports.events(core);
    sender = H.transports.post(core);
    channel.open();
    sender.send();
    firstStart();
  }

  function useHttp() {
    mode = "http";
    channel = null;
    sender = H.transports.post(core);
    setOnline(true);
    firstStart();
    sender.announce();  // no stream attaches this page: an empty POST says it has loaded
    sender.send();
  }

  function fallBack() {
    console.info("htagweb: no websocket here: pushes by Server-Sent Events, interactions by POST");
    failures = 0;
    useEvents();
  }

  var core = {
    cfg: cfg,
    CODES: CODES,
    endpoint: endpoint,
    query: "?i=" + encodeURIComponent(cfg.instance),
    READY_WITHIN_MS: READY_WITHIN_MS,
    position: function () { return "&t=" + page + "&p=" + (renderAll ? -1 : lastPush); },
    pending: function () { return pending; },
    finished: function () { return finished; },
    parse: parse,
    receive: receive,
    up: channelUp,
    lost: channelLost,
    hint: hint,
    newCookie: newCookie,
    newCsrf: newCsrf,
    ended: ended,
    channelFailed: channelFailed,
    showError: showError,
    delay: backoff,
    sleep: function (ms) { return new Promise(function (done) { window.setTimeout(done, ms); }); },
    answered: function () { if (mode === "http") becameUp(); },
    unanswered: function () { if (mode === "http") wentDown(up); },  // a cut, then failures
  };

  // -- what htag calls --------------------------------------------------------------------------
  function interact(o) {
    if (expired) { window.location.reload(); return; }
    if (finished) return;
    if (pending.length >= MAX_QUEUED) {
      console.warn("htagweb: " + MAX_QUEUED + " interactions wait for the server: one dropped");
      return;
    }
    var iid = page + ":" + nextNumber;
    nextNumber += 1;
    var entry = {iid: iid, text: JSON.stringify({iid: iid, message: o})};
    pending.push(entry);
    if (sender) sender.send(entry);
  }

  H.interact = interact;
  H.core = core;
  window.htagweb = H;

  document.addEventListener("DOMContentLoaded", async function () {
    if (cfg.parano) {
      var problem = await H.parano.unavailable();
      if (problem) {
        finished = true;  // interact() sends nothing, in clear or otherwise
        showError(problem, false);
        return;
      }
    }
    var transport = cfg.transport;
    if (transport === "auto" && (!H.transports.websocket || websocketFailedHere())) {
      transport = "sse";
    }
    if (transport === "auto" || transport === "websocket") {
      useWebsocket();
    } else if (transport === "sse") {
      useEvents();
    } else {
      useHttp();
    }
  });
})();
