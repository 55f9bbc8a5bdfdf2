// Passkeys on the organiser's pages: a progressive enhancement of forms marked data-passkey.
// The form asks its data-options address for the ceremony's options (JSON), hands them to the
// browser's navigator.credentials, puts the answer into the form's "credential" field and sends
// the form as usual. Without this script (or without passkeys) the forms stay hidden and the code
// from the app works as before. No other origin is reached.
(function () {
  "use strict";

  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i += 1) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return { type: item.type, id: toBytes(item.id), transports: item.transports };
    });
  }

  function creationOptions(options) {
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    options.excludeCredentials = descriptors(options.excludeCredentials);
    return { publicKey: options };
  }

  function requestOptions(options) {
    options.challenge = toBytes(options.challenge);
    options.allowCredentials = descriptors(options.allowCredentials);
    return { publicKey: options };
  }

  function answer(credential) {
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || null,
      response: { clientDataJSON: toText(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      out.response.attestationObject = toText(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = toText(response.authenticatorData);
      out.response.signature = toText(response.signature);
      out.response.userHandle = response.userHandle ? toText(response.userHandle) : null;
    }
    return JSON.stringify(out);
  }

  function enhance(form) {
    var kind = form.getAttribute("data-passkey");
    var failed = form.querySelector("[data-passkey-failed]");
    var busy = false;
    form.hidden = false;
    document.querySelectorAll("[data-passkey-absent]").forEach(function (note) {
      note.hidden = true;
    });
    form.addEventListener("submit", function (event) {
      if (form.elements.credential.value) {
        return;
      }
      event.preventDefault();
      if (busy) {
        return;
      }
      busy = true;
      failed.hidden = true;
      var body = new FormData();
      body.append("csrf_token", form.elements.csrf_token.value);
      fetch(form.getAttribute("data-options"), {
        method: "POST",
        body: body,
        credentials: "same-origin",
      })
        .then(function (reply) {
          if (!reply.ok) {
            throw new Error("options refused: " + reply.status);
          }
          return reply.json();
        })
        .then(function (options) {
          return kind === "create"
            ? navigator.credentials.create(creationOptions(options))
            : navigator.credentials.get(requestOptions(options));
        })
        .then(function (credential) {
          form.elements.credential.value = answer(credential);
          form.submit();
        })
        .catch(function () {
          busy = false;
          failed.hidden = false;
        });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-passkey]").forEach(enhance);
  });
})();
