/* htagweb-asgi client: connects an htag page to its user process.
 *
 * Configured by the JSON block #htagweb-config the host puts in the page:
 *   sub       the path the server served this page at, below its mount prefix
 *   prefix    the mount prefix as the server saw it (used only if `sub` does not match)
 *   base      the App's path below the prefix ("" for the root App)
 *   instance  the renderer this page was rendered from
 *   transport "ws" (websocket: interactions and pushes) or "http" (POST, no pushes)
 *   csrf      (http) the token the host expects in the x-htagweb-csrf header
 *
 * URLs are derived from location.pathname, never hard-coded: the page keeps working when the
 * host is mounted under a prefix or behind a proxy that strips one.
 *
 * Close codes from the host (also the `code` of HTTP error replies):
 *   4000 the App called exit()            → reload (a fresh App)
 *   4001 no process for this page         → reload (with back-off)
 *   4002 interaction timed out            → message; the next reload gets a fresh process
 *   4003 ended after inactivity           → the next interaction reloads
 *   4004 the process ended unexpectedly   → message with a reload link
 *   1003/1007/1008/1009 bad message       → message (a bug, not a network problem)
 */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("htagweb-config").textContent);
  var pathname = window.location.pathname;
  var prefix = pathname.slice(-cfg.sub.length) === cfg.sub
    ? pathname.slice(0, pathname.length - cfg.sub.length)
    : cfg.prefix;
  var endpoint = prefix + cfg.base + "/_/";
  var query = "?i=" + encodeURIComponent(cfg.instance);
  var RELOADS = "htagweb.reloads";
  var RECONNECT_BASE_MS = 250;
  var RECONNECT_CAP_MS = 8000;
  var MAX_QUEUED = 100;

  var started = false;
  var expired = false;
  var finished = false;

  // -- page state ----------------------------------------------------------------------------
  function setOnline(online) {
    if (document.body) document.body.classList.toggle("htagoff", !online);
  }

  function showError(text, withReload) {
    var box = document.getElementById("htagweb-error");
    if (!box) {
      box = document.createElement("div");
      box.id = "htagweb-error";
      box.setAttribute("role", "alert");
      box.style.cssText = "position:fixed;z-index:2147483647;left:8px;right:8px;bottom:8px;" +
        "max-height:40vh;overflow:auto;background:#fee;color:#600;border:1px solid #c00;" +
        "padding:8px;font:13px monospace;";
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

  function firstStart() {
    if (started) return;
    started = true;
    window.start();
  }

  function reloadSoon() {
    // Back off when reloads keep landing on a missing process (cookies refused, ...).
    var count = Number(window.sessionStorage.getItem(RELOADS) || 0);
    window.sessionStorage.setItem(RELOADS, String(count + 1));
    if (count >= 6) {
      showError("This page cannot reach its application (are cookies enabled?).", true);
      return;
    }
    window.setTimeout(function () { window.location.reload(); }, count ? 500 * Math.pow(2, count) : 0);
  }

  function ended(code, reason) {
    // Returns true when the page must not reconnect.
    if (code === 4000) { finished = true; window.location.reload(); return true; }
    if (code === 4001) { finished = true; reloadSoon(); return true; }
    if (code === 4003) { expired = true; return true; }
    if (code === 4002 || code === 4004) {
      finished = true;
      showError(reason || "The application stopped.", true);
      return true;
    }
    if (code === 1003 || code === 1007 || code === 1008 || code === 1009) {
      finished = true;
      showError("Protocol error: " + (reason || code), true);
      return true;
    }
    return false;
  }

  window.error = function (text) {  // htag's _error() reports through window.error
    showError(text === null ? "Communication error with the server." : text, false);
  };

  // -- websocket transport --------------------------------------------------------------------
  var ws = null;
  var ready = false;
  var queue = [];
  var attempt = 0;
  var asked = null;  // the close the host asked for: daphne answers it with 1000, not our code

  function wsUrl() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + endpoint + "ws" + query;
  }

  function connect() {
    ws = new WebSocket(wsUrl());
    ws.onmessage = function (event) { receive(event.data); };
    ws.onclose = function (event) {
      ws = null;
      ready = false;
      setOnline(false);
      var code = asked ? asked.code : event.code;
      var reason = asked ? asked.reason : event.reason;
      asked = null;
      if (!finished && !ended(code, reason)) reconnectLater();
    };
  }

  function reconnectLater() {
    var delay = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * Math.pow(2, attempt));
    attempt += 1;
    window.setTimeout(connect, delay * (0.5 + Math.random() / 2));
  }

  function receive(data) {
    var message;
    try {
      message = JSON.parse(data);
    } catch (e) {
      showError("Unreadable message from the server.", true);
      return;
    }
    if (message && message.htagweb) {
      control(message.htagweb);
    } else {
      window.action(message);
    }
  }

  function control(message) {
    if (message.ready) {
      ready = true;
      attempt = 0;
      window.sessionStorage.removeItem(RELOADS);
      setOnline(true);
      while (queue.length && ws) ws.send(queue.shift());
      firstStart();
    } else if (message.close && ws) {
      // The host asks us to close: a client-initiated close is the clean end on every server.
      asked = {code: message.close, reason: message.reason || ""};
      ws.close(asked.code, asked.reason);
    }
  }

  function sendOverWebsocket(text) {
    if (ready && ws && ws.readyState === WebSocket.OPEN) {
      ws.send(text);
    } else if (queue.length < MAX_QUEUED) {
      queue.push(text);
    }
  }

  // -- http transport -------------------------------------------------------------------------
  async function sendOverHttp(text) {
    var response;
    try {
      response = await window.fetch(endpoint + "post" + query, {
        method: "POST",
        headers: {"content-type": "application/json", "x-htagweb-csrf": cfg.csrf || ""},
        body: text,
        credentials: "same-origin",
      });
    } catch (e) {
      setOnline(false);
      showError("The server cannot be reached; try again.", false);
      return;
    }
    setOnline(true);
    var reply = await response.json().catch(function () { return null; });
    if (response.ok && reply) {
      window.sessionStorage.removeItem(RELOADS);
      window.action(reply);
    } else if (!(reply && ended(reply.code, reply.reason))) {
      showError("The server answered " + response.status + ".", true);
    }
  }

  // -- what htag calls --------------------------------------------------------------------------
  function interact(o) {
    if (expired) { window.location.reload(); return; }
    if (finished) return;
    var text = JSON.stringify(o);
    if (cfg.transport === "http") return sendOverHttp(text);
    sendOverWebsocket(text);
  }

  window.htagweb = {interact: interact};

  document.addEventListener("DOMContentLoaded", function () {
    if (cfg.transport === "http") {
      setOnline(true);
      firstStart();
    } else {
      connect();
    }
  });
})();
