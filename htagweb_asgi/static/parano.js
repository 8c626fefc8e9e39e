/* htagweb-asgi parano: the page's side of the end-to-end encryption with its user process.
 *
 * Loaded after client.js by the pages of a `parano` App; sets window.htagweb.parano, which
 * the transports (websocket.js, http.js) use. Mirrors htagweb_asgi/parano/envelope.py and
 * agreement.py (X25519, HKDF-SHA256, AES-256-GCM, WebCrypto). The host relays these bytes
 * unread:
 *   HELLO   01 | page public key (32)                  WELCOME 02 | process public key | id (16)
 *   SEALED  03 | session id (16) | counter (8) | AES-256-GCM ciphertext and tag (16)
 * A key agreement is made per websocket connection and per event stream (strict: only the
 * next counter), and once per page for its POSTs (any higher counter: a lost exchange leaves
 * a gap). A resent interaction is sealed again, never sent as the same bytes twice.
 */
(function () {
  "use strict";

  var HELLO = 1;
  var WELCOME = 2;
  var SEALED = 3;
  var HEADER_BYTES = 25;
  var TAG_BYTES = 16;
  var WELCOME_BYTES = 49;
  var INFO = new TextEncoder().encode("htagweb-asgi parano v1");

  class ChannelError extends Error {}

  async function unavailable() {  // why this browser cannot do it here, or null
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

  async function newAgreement() {  // a fresh ephemeral key pair per connection (or POST page)
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
      strict: strict,  // a stream: only the next counter; POST: any higher one (lost replies)
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

  async function open(session, data) {
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

  function fromBase64(text) {
    return Uint8Array.from(atob(text), function (c) { return c.charCodeAt(0); });
  }

  function toBase64Url(bytes) {
    return btoa(String.fromCharCode.apply(null, bytes))
      .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  window.htagweb.parano = {
    ChannelError: ChannelError,
    SEALED_TYPE: "application/octet-stream",
    unavailable: unavailable,
    newAgreement: newAgreement,
    helloOf: helloOf,
    completeAgreement: completeAgreement,
    seal: seal,
    open: open,
    fromBase64: fromBase64,
    toBase64Url: toBase64Url,
  };
})();
