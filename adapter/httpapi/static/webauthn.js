// Gatehouse passkeys: the only script of the pages, served from 'self'.
//
// A form with data-passkey="create" (add a passkey) or "get" (sign in with one)
// carries the server's options in data-options (JSON, base64url fields) and a hidden
// input "credential". On submit, the browser's WebAuthn API is asked, its answer is
// written into "credential" as JSON (base64url fields) and the form is posted as any
// other (with its CSRF token). A "get" form with data-conditional also offers the
// passkeys in the username field's autofill (conditional UI). Pages work without this
// script: the passkey forms stay hidden.
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }

  function toB64u(buf) {
    var bytes = new Uint8Array(buf), s = "";
    for (var i = 0; i < bytes.length; i++) {
      s += String.fromCharCode(bytes[i]);
    }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function fromB64u(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) {
      s += "=";
    }
    var bin = atob(s), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      bytes[i] = bin.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      var out = { type: d.type, id: fromB64u(d.id) };
      if (d.transports) {
        out.transports = d.transports;
      }
      return out;
    });
  }

  function creationOptions(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = fromB64u(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: fromB64u(pk.user.id) });
    pk.excludeCredentials = descriptors(pk.excludeCredentials);
    return pk;
  }

  function requestOptions(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = fromB64u(pk.challenge);
    pk.allowCredentials = descriptors(pk.allowCredentials);
    return pk;
  }

  function encode(cred) {
    var r = cred.response, out = {
      id: cred.id,
      rawId: toB64u(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toB64u(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toB64u(r.attestationObject);
      if (r.getTransports) {
        out.response.transports = r.getTransports();
      }
    } else {
      out.response.authenticatorData = toB64u(r.authenticatorData);
      out.response.signature = toB64u(r.signature);
      if (r.userHandle && r.userHandle.byteLength) {
        out.response.userHandle = toB64u(r.userHandle);
      }
    }
    return JSON.stringify(out);
  }

  function showError(form, message) {
    var p = form.querySelector(".passkey-error");
    if (p) {
      p.textContent = message;
      p.hidden = false;
    }
  }

  function send(form, cred) {
    form.querySelector("input[name=credential]").value = encode(cred);
    form.submit();
  }

  function setUp(form) {
    var options;
    try {
      options = JSON.parse(form.getAttribute("data-options"));
    } catch (e) {
      return;
    }
    var kind = form.getAttribute("data-passkey");
    var conditional = null; // the AbortController of a pending conditional request
    var pending = Promise.resolve();
    form.hidden = false;

    form.addEventListener("submit", function (ev) {
      if (form.querySelector("input[name=credential]").value) {
        return; // the answer is in: post it
      }
      ev.preventDefault();
      var ask;
      if (kind === "create") {
        ask = function () { return navigator.credentials.create({ publicKey: creationOptions(options) }); };
      } else {
        ask = function () { return navigator.credentials.get({ publicKey: requestOptions(options) }); };
      }
      if (conditional) {
        conditional.abort();
        conditional = null;
      }
      pending.then(ask).then(function (cred) {
        if (cred) {
          send(form, cred);
        }
      }, function (err) {
        // The page gives the messages in its language (data-msg-*).
        var msg = function (name, english) { return form.getAttribute("data-msg-" + name) || english; };
        showError(form, err && err.name === "NotAllowedError"
          ? msg("cancelled", "The passkey request was cancelled or timed out. Try again.")
          : (err && err.name === "InvalidStateError"
            ? msg("registered", "This passkey is already registered.")
            : msg("unsupported", "Your browser could not use a passkey here.")));
      });
    });

    if (kind === "get" && form.hasAttribute("data-conditional") &&
        PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
        if (!ok) {
          return;
        }
        conditional = new AbortController();
        pending = navigator.credentials.get({
          mediation: "conditional",
          signal: conditional.signal,
          publicKey: requestOptions(options)
        }).then(function (cred) {
          if (cred) {
            send(form, cred);
          }
        }, function () { /* aborted or dismissed */ });
      });
    }
  }

  function start() {
    var forms = document.querySelectorAll("form[data-passkey]");
    for (var i = 0; i < forms.length; i++) {
      setUp(forms[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
