/* htagweb-asgi HTTP transports: interactions by POST, pushes by Server-Sent Events.
 *
 * Loaded after client.js by the pages of Apps whose transport is "auto", "sse" or "http";
 * sets window.htagweb.transports.post(core) and .events(core), which client.js drives.
 *
 * post:   sends the unanswered interactions one at a time, oldest first, to
 *         <app>/_/post?i=<instance>; one that gets no answer (a cut, a proxy's own error
 *         page, a 503 with Retry-After) is sent again after a back-off: the process answers
 *         a resend without running it twice. A parano page agrees on keys once (its first
 *         POST is the HELLO) and seals each attempt afresh. An "http" page (no event stream)
 *         first posts an empty body: the page has loaded (web/post.py attach_only).
 * events: an EventSource on <app>/_/sse?i=<instance>&t=<page>&p=<last push> (a parano page
 *         adds the HELLO of a key agreement for this stream in h=, its WELCOME comes with
 *         ready). The page closes it on any error and reconnects by itself (client.js's
 *         back-off), saying in p= which push it has last.
 */
(function () {
  "use strict";

  var transports = window.htagweb.transports;

  transports.post = function (core) {
    var parano = core.cfg.parano ? window.htagweb.parano : null;
    var session = null;  // parano: the key agreement of this page's POSTs
    var busy = false;
    var failures = 0;

    async function fetchPost(body, contentType) {
      var response = await window.fetch(core.endpoint + "post" + core.query, {
        method: "POST",
        headers: {"content-type": contentType, "x-htagweb-csrf": core.cfg.csrf || ""},
        body: body,
        credentials: "same-origin",
        cache: "no-store",
      });
      core.newCsrf(response);  // the App rotated the session: the next POSTs need its token
      return response;
    }

    // The outcome of one exchange: {reply: text}, {retry: ms (0: ours to choose)}, or {done}
    // when the page was told why it cannot go on.
    async function exchange(text) {
      try {
        if (parano && session === null) {  // the page's first exchange: agree on keys first
          var pending = await parano.newAgreement();
          var answer = await fetchPost(parano.helloOf(pending), parano.SEALED_TYPE);
          var welcome = await readBody(answer);
          if (!welcome.reply) return welcome;
          session = await parano.completeAgreement(pending, welcome.reply, false);
        }
        var body = parano ? await parano.seal(session, text) : text;
        var response = await fetchPost(body, parano ? parano.SEALED_TYPE : "application/json");
        var outcome = await readBody(response);
        if (outcome.reply && parano) outcome.reply = await parano.open(session, outcome.reply);
        return outcome;
      } catch (error) {
        if (parano && error instanceof parano.ChannelError) throw error;
        return {retry: 0};  // the network failed (before or during the answer): send it again
      }
    }

    async function readBody(response) {
      var type = response.headers.get("content-type") || "";
      if (response.ok) {
        var sealed = parano && type === parano.SEALED_TYPE;
        if (sealed) return {reply: await response.arrayBuffer()};
        if (!parano && type.indexOf("application/json") === 0) return {reply: await response.text()};
        return {retry: 0};  // not ours: a proxy's page
      }
      var ours = type.indexOf("application/json") === 0
        ? await response.json().catch(function () { return null; }) : null;
      var after = Number(response.headers.get("retry-after"));
      if (response.status === 503 && after > 0) return {retry: after * 1000};
      if (ours && typeof ours.code === "number") {
        if (!core.ended(ours.code, ours.reason)) {
          core.showError("The server answered " + response.status + ".", true);
        }
        return {done: true};
      }
      return {retry: 0};  // a proxy's error page (502, 504...): the process may have it, resend
    }

    async function pump() {
      if (busy) return;
      busy = true;
      try {
        while (!core.finished() && core.pending().length) {
          var entry = core.pending()[0];
          var outcome = await exchange(entry.text);
          if (outcome.done) return;
          if (outcome.reply !== undefined) {
            failures = 0;
            core.answered("post");
            var message = core.parse(outcome.reply);
            if (message) core.receive(message);
            continue;
          }
          failures += 1;
          core.unanswered("post", failures);
          await core.sleep(Math.max(outcome.retry, core.delay(failures)));
        }
      } catch (error) {
        core.channelFailed(error);
      } finally {
        busy = false;
      }
    }

    async function announce() {
      // An empty POST says the page has loaded: the server keeps the process of a page that
      // attached (a websocket or an event stream does the same), and reclaims those of page
      // loads that never do. A refusal is explained (REPLACED, TOO_MANY...).
      try {
        var response = await fetchPost("", "application/json");
        if (response.ok) {
          await response.text();  // read to its end: the exchange is over
        } else {
          await readBody(response);
        }
      } catch (error) {
        console.info("htagweb: the page could not say it has loaded: " + error);
      }
    }

    return {open: pump, send: pump, announce: announce};
  };

  transports.events = function (core) {
    var parano = core.cfg.parano ? window.htagweb.parano : null;
    var source = null;
    var ready = false;
    var timer = null;
    var inbox = Promise.resolve();  // parano: messages opened one at a time, in order

    async function open() {
      var url = core.endpoint + "sse" + core.query + core.position();
      var agreement = null;
      if (parano) {
        agreement = await parano.newAgreement();
        url += "&h=" + parano.toBase64Url(parano.helloOf(agreement));
      }
      var stream = new EventSource(url);
      var secure = null;
      source = stream;
      ready = false;
      timer = window.setTimeout(function () {
        if (stream === source && !ready) lose(stream);
      }, core.READY_WITHIN_MS);
      stream.addEventListener("htagweb", function (event) {
        var message = core.parse(event.data);
        if (!message || stream !== source) return;
        if (!message.ready) {
          control(stream, message);
          return;
        }
        if (!parano) {
          becomeReady(stream);
          return;
        }
        inbox = inbox.then(async function () {
          secure = await parano.completeAgreement(agreement, parano.fromBase64(message.welcome), true);
          if (stream === source) becomeReady(stream);
        }).catch(function (error) { failed(error, stream); });
      });
      stream.onmessage = function (event) {
        if (stream !== source) return;
        if (!parano) {
          var message = core.parse(event.data);
          if (message) core.receive(message);
          return;
        }
        inbox = inbox.then(async function () {
          if (secure === null) throw new parano.ChannelError("a push before the key agreement");
          var text = await parano.open(secure, parano.fromBase64(event.data));
          if (stream === source) core.receive(JSON.parse(text));
        }).catch(function (error) { failed(error, stream); });
      };
      stream.onerror = function () { lose(stream); };  // EventSource would retry on its own
    }

    function becomeReady(stream) {
      ready = true;
      window.clearTimeout(timer);
      core.up("events");
    }

    function failed(error, stream) {
      if (core.channelFailed(error)) stream.close();
    }

    function control(stream, message) {
      if (message.close) {
        lose(stream, message.close, message.reason || "");
      } else if (message.reconnect) {
        core.hint(message.reconnect);
        lose(stream);
      }
    }

    function lose(stream, code, reason) {
      // The stream failed or ended (code: the host's close): client.js decides what next.
      stream.close();
      if (stream !== source) return;
      window.clearTimeout(timer);
      source = null;
      var wasReady = ready;
      ready = false;
      core.lost("events", wasReady, code || 1006, reason || "");
    }

    return {
      open: open,
      restart: function () { if (source) lose(source); },
    };
  };
})();
