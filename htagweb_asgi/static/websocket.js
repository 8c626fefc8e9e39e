/* htagweb-asgi websocket transport: interactions and pushes on one connection.
 *
 * Loaded after client.js by the pages of Apps whose transport is "auto" or "websocket"; sets
 * window.htagweb.transports.websocket(core), which client.js drives. It opens
 * <app>/_/ws?i=<instance>&t=<page>&p=<last push>, waits for the host's ready (a parano page
 * then agrees on keys for this connection), resends every interaction still unanswered, in
 * order, and hands whatever comes to client.js. A connection that is not ready within
 * core.READY_WITHIN_MS counts as failed (a proxy that takes the upgrade and passes nothing).
 */
(function () {
  "use strict";

  window.htagweb.transports.websocket = function (core) {
    var parano = core.cfg.parano ? window.htagweb.parano : null;
    var ws = null;
    var ready = false;
    var timer = null;
    var agreement = null;  // parano: this connection's key agreement, until its WELCOME
    var secure = null;  // parano: this connection's session
    var inbox = Promise.resolve();  // parano: messages handled one at a time, in order
    var outbox = Promise.resolve();  // parano: messages sealed and sent one at a time, in order
    var asked = null;  // the close the host asked for: daphne answers it with 1000, not our code

    var opened = 0;  // after the first, "&r=1": the host counts reconnections (its metrics)

    function url() {
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      var again = opened++ ? "&r=1" : "";
      return scheme + window.location.host + core.endpoint + "ws" + core.query + core.position() +
        again;
    }

    function open() {
      var socket = new WebSocket(url());
      ws = socket;
      ready = false;
      socket.binaryType = "arraybuffer";
      timer = window.setTimeout(function () {
        if (socket === ws && !ready) socket.close();  // onclose reports the failed attempt
      }, core.READY_WITHIN_MS);
      socket.onmessage = function (event) {
        if (!parano) {
          receive(socket, event.data);
          return;
        }
        inbox = inbox.then(function () { return receiveParano(socket, event.data); })
          .catch(function (error) { failed(error, socket); });
      };
      socket.onclose = function (event) {
        if (socket !== ws) return;
        window.clearTimeout(timer);
        var wasReady = ready;
        ws = null;
        ready = false;
        agreement = null;
        secure = null;
        var code = asked ? asked.code : event.code;
        var reason = asked ? asked.reason : event.reason;
        asked = null;
        core.lost("websocket", wasReady, code, reason);
      };
    }

    function failed(error, socket) {
      if (core.channelFailed(error) && socket.readyState <= WebSocket.OPEN) {
        socket.close(core.CODES.CHANNEL_BROKEN, "encrypted channel failed");
      }
    }

    function receive(socket, data) {
      if (socket !== ws) return;
      var message = core.parse(data);
      if (message && message.htagweb) {
        control(message.htagweb);
      } else if (message) {
        core.receive(message);
      }
    }

    async function receiveParano(socket, data) {
      if (socket !== ws || core.finished()) return;  // closed (or failed) since
      if (typeof data === "string") {  // only the host's control messages travel in clear
        var message = core.parse(data, true);
        if (!(message && message.htagweb)) throw new parano.ChannelError("a message in clear");
        if (message.htagweb.ready) {
          var pending = await parano.newAgreement();  // a new key agreement per connection
          if (socket !== ws) return;
          agreement = pending;
          socket.send(parano.helloOf(pending));
        } else {
          control(message.htagweb);
        }
        return;
      }
      if (secure === null) {
        if (agreement === null) throw new parano.ChannelError("an unexpected key agreement answer");
        var session = await parano.completeAgreement(agreement, data, true);
        if (socket !== ws) return;
        secure = session;
        agreement = null;
        becomeReady();
        return;
      }
      var text = await parano.open(secure, data);
      if (socket === ws) core.receive(JSON.parse(text));
    }

    function becomeReady() {
      ready = true;
      window.clearTimeout(timer);
      core.pending().forEach(function (entry) { transmit(entry.text); });  // oldest first
      core.up("websocket");
    }

    function control(message) {
      if (message.ready && !parano) {
        becomeReady();
      } else if (message.session) {
        core.newCookie(message.session);
      } else if (message.close && ws) {
        // The host asks us to close: a client-initiated close is the clean end on every server.
        asked = {code: message.close, reason: message.reason || ""};
        ws.close(asked.code, asked.reason);
      } else if (message.reconnect && ws) {
        core.hint(message.reconnect);
        ws.close(1000, "reconnecting as the server asked");
      }
    }

    function transmit(text) {
      if (!parano) {
        ws.send(text);
        return;
      }
      var socket = ws;
      var session = secure;
      outbox = outbox.then(async function () {
        var sealed = await parano.seal(session, text);
        if (socket.readyState === WebSocket.OPEN) socket.send(sealed);
      }).catch(function (error) { failed(error, socket); });
    }

    return {
      open: open,
      send: function (entry) {
        if (ready && ws && ws.readyState === WebSocket.OPEN) transmit(entry.text);
      },
      restart: function () { if (ws) ws.close(1000, "catching up"); },
    };
  };
})();
