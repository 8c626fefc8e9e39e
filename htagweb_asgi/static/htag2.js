/* htagweb-asgi: plugs client.js into the page script of an htag 2 App.
 *
 * Linked (after client.js) only from pages an htag 2 App rendered. htag 2's own page script
 * (htag/client_js.py, inlined by proc/htag2.py) has three hooks, the ones its PyScript
 * runner uses:
 *   window.HTAG_EXT_INIT   true before its script runs: it opens no transport of its own
 *                          (no websocket, no SSE, no POST); proc/htag2.py also sets it.
 *   window.htag_transport  gets every message of the page: {id, event, data} from
 *                          htag_event(), {action: "log_error", error} from its error handlers.
 *                          htag's script keeps one defined before it, and looks it up per call.
 *   handle_payload(p, src) applies one payload of the App ({action: "update" | "error", ...})
 *                          and resolves the promise htag_event() returned for its callback_id.
 *
 * client.js talks to the host, and calls what htag 1's page script defines:
 *   window.htagweb.interact(o)  sends o (websocket, or POST whose reply goes to action())
 *   window.action(message)      every message of the App: a reply is an array of payloads
 *                               (oldest first), a push one payload or an array of them
 *   window.start()              once the page can talk: nothing to do (the process gives a
 *                               new websocket what it has for it)
 *
 * What the host shows stays the host's: an error payload goes to client.js's error box (as
 * htag 1's errors do) rather than htag's full-screen dialog, and an update of <body> keeps
 * that box and the offline class.
 */
(function () {
  "use strict";

  window.HTAG_EXT_INIT = true;

  window.htag_transport = function (message) {
    window.htagweb.interact(message);
  };

  function apply(payload) {
    if (!payload || typeof payload !== "object") return;
    if (payload.action === "error") {
      window.error(String(payload.traceback));
      payload = {callback_id: payload.callback_id, result: null};  // resolve it, show nothing
    }
    var body = document.body;
    var box = document.getElementById("htagweb-error");
    var offline = body.classList.contains("htagoff");
    window.handle_payload(payload, "htagweb");
    if (box && !box.isConnected) document.body.appendChild(box);
    if (offline) document.body.classList.add("htagoff");
  }

  window.action = function (message) {
    if (Array.isArray(message)) {
      message.forEach(apply);
    } else {
      apply(message);
    }
  };

  window.start = function () {};
})();
