/* htagweb-asgi client: connects an htag page to its user process.
 *
 * Configured by the JSON block #htagweb-config the host puts in the page:
 *   sub       the path the server served this page at, below its mount prefix
 *   prefix    the mount prefix as the server saw it (used only if `sub` does not match)
 *   base      the App's path below the prefix ("" for the root App)
 *   instance  the renderer this page was rendered from
 *   transport "ws" (websocket: interactions and pushes) or "http" (POST, no pushes)
 *   csrf      (http) the token the host expects in the x-htagweb-csrf header
 *   parano    true: interactions, replies and pushes are encrypted end to end with the user's
 *             process (X25519, HKDF-SHA256, AES-256-GCM; see docs on "parano"); where
 *             this browser cannot, the page says so and sends nothing
 *   codes     the close codes by name (htagweb_asgi/protocol/codes.py: the only table)
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
  var query = "?i=" + encodeURIComponent(cfg.instance);
  var RELOADS = "htagweb.reloads";
  var RESTARTED = "htagweb.restarted";  // set before a NO_PROCESS reload: say it once after
  var RECONNECT_BASE_MS = 250;
  var RECONNECT_CAP_MS = 8000;
  var CANNOT_CONNECT_AFTER = 5;  // failed attempts in a row (about 8 s) before the page says so
  var MAX_QUEUED = 100;

  var started = false;
  var expired = false;
  var finished = false;
  var cookiePending = Promise.resolve();  // a new session cookie being fetched (rotation)

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
    if (window.sessionStorage.getItem(RESTARTED)) {
      window.sessionStorage.removeItem(RESTARTED);
      showRestarted();
    }
  }

  function showRestarted() {
    // The process of the page was gone (its server restarted, or the node serving it
    // stopped): this page is a fresh App; the session (a login) is kept.
    var box = document.createElement("div");
    box.id = "htagweb-restarted";
    box.setAttribute("role", "status");
    box.style.cssText = "position:fixed;z-index:2147483647;left:8px;right:8px;top:8px;" +
      "background:#eef6ff;color:#234;border:1px solid #69c;padding:8px;font:14px sans-serif;";
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

  function showCannotConnect(shown) {
    // The page keeps trying meanwhile; the notice goes away when it connects again.
    var box = document.getElementById("htagweb-offline");
    if (!shown) {
      if (box) box.remove();
      return;
    }
    if (box || !document.body) return;
    box = document.createElement("div");
    box.id = "htagweb-offline";
    box.setAttribute("role", "status");
    box.style.cssText = "position:fixed;z-index:2147483647;left:8px;right:8px;top:8px;" +
      "background:#fff8e0;color:#533;border:1px solid #c90;padding:8px;font:14px sans-serif;";
    box.appendChild(document.createTextNode(
      "This page cannot reach its server. It keeps trying; you can also "));
    var link = document.createElement("a");
    link.href = "";
    link.textContent = "reload the page";
    box.appendChild(link);
    box.appendChild(document.createTextNode("."));
    document.body.appendChild(box);
    console.error("htagweb: the websocket to " + wsUrl() + " fails. If you run this server: " +
      "is a websocket library installed (uvicorn needs 'uvicorn[standard]' or 'websockets')?");
  }

  window.error = function (text) {  // htag's _error() reports through window.error
    showError(text === null ? "Communication error with the server." : text, false);
  };

  // -- parano: end-to-end encryption between this page and the user's process ----------------
  // Mirrors htagweb_asgi/envelope.py and secure.py. The host relays these bytes unread.
  //   HELLO   01 | page public key (32)                  WELCOME 02 | process public key | id (16)
  //   SEALED  03 | session id (16) | counter (8) | AES-256-GCM ciphertext and tag (16)
  var HELLO = 1;
  var WELCOME = 2;
  var SEALED = 3;
  var HEADER_BYTES = 25;
  var TAG_BYTES = 16;
  var WELCOME_BYTES = 49;
  var SEALED_TYPE = "application/octet-stream";
  var INFO = new TextEncoder().encode("htagweb-asgi parano v1");

  class ChannelError extends Error {}

  async function paranoUnavailable() {
    var why = "This application encrypts its messages end to end, and this browser cannot " +
      "do it here, so nothing was sent: ";
    if (!window.isSecureContext || !window.crypto || !window.crypto.subtle) {
      return why + "the page is not in a secure context (browsers allow WebCrypto only over " +
        "https, or http on localhost). Open it over https.";
    }
    try {
      await newAgreement();
    } catch (e) {
      return why + "its WebCrypto lacks X25519. Use an up-to-date browser.";
    }
    return null;
  }

  function concat(a, b) {
    var out = new Uint8Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  }

  function sameBytes(a, b) {
    return a.length === b.length && a.every(function (byte, i) { return byte === b[i]; });
  }

  async function newAgreement() {  // a fresh ephemeral key pair per connection (or http page)
    var pair = await crypto.subtle.generateKey({name: "X25519"}, false, ["deriveBits"]);
    var publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    return {privateKey: pair.privateKey, publicKey: publicKey};
  }

  function helloOf(agreement) {
    return concat(Uint8Array.of(HELLO), agreement.publicKey);
  }

  function aesKey(bytes, usage) {
    return crypto.subtle.importKey("raw", bytes, "AES-GCM", false, [usage]);
  }

  async function completeAgreement(agreement, data, strict) {
    var welcome = new Uint8Array(data);
    if (welcome.length !== WELCOME_BYTES || welcome[0] !== WELCOME) {
      throw new ChannelError("not a key agreement answer");
    }
    var peerPublic = welcome.slice(1, 33);
    var sessionId = welcome.slice(33);
    var shared;
    try {
      var peer = await crypto.subtle.importKey("raw", peerPublic, {name: "X25519"}, false, []);
      shared = await crypto.subtle.deriveBits({name: "X25519", public: peer},
        agreement.privateKey, 256);
    } catch (e) {  // e.g. a low-order point: no shared secret
      throw new ChannelError("the process's public key is not acceptable");
    }
    var ikm = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveBits"]);
    var okm = new Uint8Array(await crypto.subtle.deriveBits({
      name: "HKDF",
      hash: "SHA-256",
      salt: concat(agreement.publicKey, peerPublic),
      info: concat(INFO, sessionId),
    }, ikm, 88 * 8));
    var upKey = await aesKey(okm.slice(0, 32), "encrypt");  // page → process
    var downKey = await aesKey(okm.slice(32, 64), "decrypt");  // process → page
    return {
      sessionId: sessionId,
      strict: strict,  // websocket: only the next counter; http: any higher one (lost replies)
      up: {key: upKey, iv: okm.slice(64, 76), counter: BigInt(0)},
      down: {key: downKey, iv: okm.slice(76, 88), counter: BigInt(0)},
    };
  }

  function sealedHeader(sessionId, counter) {
    var header = new Uint8Array(HEADER_BYTES);
    header[0] = SEALED;
    header.set(sessionId, 1);
    new DataView(header.buffer).setBigUint64(17, counter);
    return header;
  }

  function nonceOf(iv, counter) {  // iv XOR the counter as 12 big-endian bytes (as TLS 1.3)
    var nonce = iv.slice();
    var view = new DataView(nonce.buffer);
    view.setBigUint64(4, view.getBigUint64(4) ^ counter);
    return nonce;
  }

  async function seal(session, text) {
    var counter = session.up.counter;
    session.up.counter = counter + BigInt(1);  // taken before any await: never used twice
    var header = sealedHeader(session.sessionId, counter);
    var sealed = await crypto.subtle.encrypt(
      {name: "AES-GCM", iv: nonceOf(session.up.iv, counter), additionalData: header},
      session.up.key, new TextEncoder().encode(text));
    return concat(header, new Uint8Array(sealed));
  }

  async function openSealed(session, data) {
    var message = new Uint8Array(data);
    if (message.length < HEADER_BYTES + TAG_BYTES || message[0] !== SEALED) {
      throw new ChannelError("not a sealed message");
    }
    var header = message.slice(0, HEADER_BYTES);
    if (!sameBytes(header.slice(1, 17), session.sessionId)) {
      throw new ChannelError("a message sealed for another session");
    }
    var counter = new DataView(header.buffer).getBigUint64(17);
    if (counter < session.down.counter) throw new ChannelError("a replayed or reordered message");
    if (session.strict && counter !== session.down.counter) {
      throw new ChannelError("a message is missing or out of order");
    }
    var plain;
    try {
      plain = await crypto.subtle.decrypt(
        {name: "AES-GCM", iv: nonceOf(session.down.iv, counter), additionalData: header},
        session.down.key, message.slice(HEADER_BYTES));
    } catch (e) {
      throw new ChannelError("a message was altered or not sealed with our key");
    }
    session.down.counter = counter + BigInt(1);
    return new TextDecoder().decode(plain);
  }

  function channelFailed(error, socket) {
    if (!(error instanceof ChannelError)) {
      console.error(error);  // not the channel's fault (e.g. an update of a vanished element)
      return;
    }
    if (finished) return;
    finished = true;
    showError("The encrypted channel to the application failed: " + error.message + ".", true);
    if (socket && socket.readyState <= WebSocket.OPEN) {
      socket.close(CODES.CHANNEL_BROKEN, "encrypted channel failed");
    }
  }

  // -- websocket transport --------------------------------------------------------------------
  var ws = null;
  var ready = false;
  var queue = [];
  var attempt = 0;
  var agreement = null;  // parano: this connection's key agreement, until its WELCOME
  var secure = null;  // parano: this connection's session
  var inbox = Promise.resolve();  // parano: messages handled one at a time, in order
  var outbox = Promise.resolve();  // parano: messages sealed and sent one at a time, in order
  var asked = null;  // the close the host asked for: daphne answers it with 1000, not our code
  var hinted = null;  // ms before the next attempt, from a draining server (or a restart)
  var connectedOnce = false;  // later connections are reconnections (the server counts them)
  var RESTART_SPREAD_MS = 3000;  // 1001/1012 (server going away): first attempt within this

  function wsUrl() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + endpoint + "ws" + query + (connectedOnce ? "&r=1" : "");
  }

  function connect() {
    var socket = new WebSocket(wsUrl());
    ws = socket;
    socket.binaryType = "arraybuffer";
    socket.onmessage = function (event) {
      if (!cfg.parano) {
        receive(event.data);
        return;
      }
      inbox = inbox.then(function () { return receiveParano(socket, event.data); })
        .catch(function (error) { channelFailed(error, socket); });
    };
    socket.onclose = function (event) {
      ws = null;
      ready = false;
      agreement = null;
      secure = null;
      setOnline(false);
      var code = asked ? asked.code : event.code;
      var reason = asked ? asked.reason : event.reason;
      asked = null;
      if (hinted === null && (code === 1001 || code === 1012)) {
        hinted = Math.random() * RESTART_SPREAD_MS;  // a stopping server: don't come back at once
      }
      if (!finished && !ended(code, reason)) reconnectLater();
    };
  }

  function reconnectLater() {
    var delay = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * Math.pow(2, attempt));
    delay = delay * (0.5 + Math.random() / 2);
    if (hinted !== null) {  // the server said when (its share of a drain's spread)
      delay = hinted;
      hinted = null;
    }
    attempt += 1;
    if (attempt >= CANNOT_CONNECT_AFTER) showCannotConnect(true);
    window.setTimeout(function () { cookiePending.then(connect); }, delay);
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

  async function receiveParano(socket, data) {
    if (socket !== ws || finished) return;  // a connection that has closed (or failed) since
    if (typeof data === "string") {  // only the host's control messages travel in clear
      var message = null;
      try { message = JSON.parse(data); } catch (e) { /* refused below */ }
      if (!(message && message.htagweb)) throw new ChannelError("a message in clear");
      if (message.htagweb.ready) {
        var pending = await newAgreement();  // a new key agreement for every connection
        if (socket !== ws) return;
        agreement = pending;
        socket.send(helloOf(pending));
      } else {
        control(message.htagweb);
      }
      return;
    }
    if (secure === null) {
      if (agreement === null) throw new ChannelError("an unexpected key agreement answer");
      var session = await completeAgreement(agreement, data, true);
      if (socket !== ws) return;
      secure = session;
      agreement = null;
      becomeReady();
      return;
    }
    var text = await openSealed(secure, data);
    window.action(JSON.parse(text));
  }

  function becomeReady() {
    ready = true;
    connectedOnce = true;
    attempt = 0;
    showCannotConnect(false);
    window.sessionStorage.removeItem(RELOADS);
    setOnline(true);
    while (queue.length && ws) transmit(queue.shift());
    firstStart();
  }

  function fetchNewCookie(token) {
    // The App rotated the session (a login): a websocket cannot set cookies, so the page
    // trades the token for the new cookie. Reconnections and reloads wait for it.
    cookiePending = window.fetch(endpoint + "session", {
      method: "POST",
      body: token,
      credentials: "same-origin",
    }).then(function (response) {
      if (!response.ok) console.error("htagweb: the new session cookie was refused");
    }).catch(function () { console.error("htagweb: the new session cookie was not set"); });
  }

  function control(message) {
    if (message.ready) {
      becomeReady();
    } else if (message.session) {
      fetchNewCookie(message.session);
    } else if (message.reconnect !== undefined && ws) {
      // The server drains: leave now, come back after the delay it chose (spread over pages).
      hinted = Math.max(0, Number(message.reconnect) || 0);
      ws.close(1000, "reconnect");
    } else if (message.close && ws) {
      // The host asks us to close: a client-initiated close is the clean end on every server.
      asked = {code: message.close, reason: message.reason || ""};
      ws.close(asked.code, asked.reason);
    }
  }

  function transmit(text) {
    if (!cfg.parano) {
      ws.send(text);
      return;
    }
    var socket = ws;
    var session = secure;
    outbox = outbox.then(async function () {
      var sealed = await seal(session, text);
      if (socket.readyState === WebSocket.OPEN) socket.send(sealed);
    }).catch(function (error) { channelFailed(error, socket); });
  }

  function sendOverWebsocket(text) {
    if (ready && ws && ws.readyState === WebSocket.OPEN) {
      transmit(text);
    } else if (queue.length < MAX_QUEUED) {
      queue.push(text);
    }
  }

  // -- http transport -------------------------------------------------------------------------
  var httpSession = null;  // parano: the session of this page's POSTs
  var exchanges = Promise.resolve();  // parano: one exchange at a time (increasing counters)

  async function post(body, contentType) {
    var response;
    try {
      response = await window.fetch(endpoint + "post" + query, {
        method: "POST",
        headers: {"content-type": contentType, "x-htagweb-csrf": cfg.csrf || ""},
        body: body,
        credentials: "same-origin",
      });
    } catch (e) {
      setOnline(false);
      showError("The server cannot be reached; try again.", false);
      return null;
    }
    setOnline(true);
    return response;
  }

  function explainRefusal(status, reply) {
    if (!(reply && ended(reply.code, reply.reason))) {
      showError("The server answered " + status + ".", true);
    }
  }

  async function announce() {
    // An empty POST says the page has loaded: the server keeps the process of a page that
    // attached (a websocket does the same), and reclaims those of page loads that never do.
    var response = await post("", "application/json");
    if (!response) return;
    // Read the reply even when it is only "{}": a body left unread keeps its request open
    // in the browser (DevTools, and so Playwright, never see it finish).
    var reply = await response.json().catch(function () { return null; });
    if (!response.ok) explainRefusal(response.status, reply);
  }

  function sendOverHttp(text) {
    if (!cfg.parano) return plainExchange(text);
    exchanges = exchanges.then(function () { return sealedExchange(text); })
      .catch(function (error) { channelFailed(error, null); });
    return exchanges;
  }

  async function plainExchange(text) {
    var response = await post(text, "application/json");
    if (!response) return;
    var reply = await response.json().catch(function () { return null; });
    if (response.ok && reply) {
      window.sessionStorage.removeItem(RELOADS);
      window.action(reply);
    } else {
      explainRefusal(response.status, reply);
    }
  }

  async function readSealed(response) {  // the reply's bytes, or null once explained
    if (response.ok && response.headers.get("content-type") === SEALED_TYPE) {
      return response.arrayBuffer();
    }
    explainRefusal(response.status, await response.json().catch(function () { return null; }));
    return null;
  }

  async function sealedExchange(text) {
    if (finished) return;
    if (httpSession === null) {  // the page's first exchange: agree on keys first
      var pending = await newAgreement();
      var answer = await post(helloOf(pending), SEALED_TYPE);
      var welcome = answer && await readSealed(answer);
      if (!welcome) return;
      httpSession = await completeAgreement(pending, welcome, false);
    }
    var response = await post(await seal(httpSession, text), SEALED_TYPE);
    var data = response && await readSealed(response);
    if (!data) return;
    var reply = await openSealed(httpSession, data);
    window.sessionStorage.removeItem(RELOADS);
    window.action(JSON.parse(reply));
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

  document.addEventListener("DOMContentLoaded", async function () {
    if (cfg.parano) {
      var problem = await paranoUnavailable();
      if (problem) {
        finished = true;  // interact() sends nothing, in clear or otherwise
        showError(problem, false);
        return;
      }
    }
    if (cfg.transport === "http") {
      setOnline(true);
      firstStart();
      announce();
    } else {
      connect();
    }
  });
})();
