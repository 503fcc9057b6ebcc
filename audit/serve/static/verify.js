// Verify the bundle in the browser (progressive enhancement; the page works without it).
// Fetches attestation.json and each file it names from this origin, recomputes SHA-256 with
// WebCrypto and compares with the attested digests, then checks the DSSE Ed25519 signature
// over PAE(payloadType, payload) with the bundle keys the page embeds.
"use strict";
(function () {
  const box = document.getElementById("browser-verify");
  if (!box) return;
  const result = document.getElementById("browser-verify-result");
  const list = document.getElementById("browser-verify-files");
  const enc = new TextEncoder();

  function show(state, text) {
    result.textContent = text;
    result.className = state === "ok" ? "ok" : state === "fail" ? "bad" : "muted";
    result.dataset.state = state;
  }
  function item(cls, text) {
    const li = document.createElement("li");
    li.className = cls;
    li.textContent = text;
    list.appendChild(li);
  }
  function b64(text) {
    const raw = atob(text);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function hex(buf) {
    return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
  }
  function concat(parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }
  function pae(type, body) {
    const t = enc.encode(type);
    return concat([enc.encode("DSSEv1 " + t.length + " "), t, enc.encode(" " + body.length + " "), body]);
  }
  async function fetchBytes(name) {
    const reply = await fetch(box.dataset.base + encodeURIComponent(name), {
      credentials: "same-origin", cache: "no-store",
    });
    if (!reply.ok) throw new Error(name + ": the service answered " + reply.status);
    return new Uint8Array(await reply.arrayBuffer());
  }
  async function signature(envelope, payload) {
    const keys = JSON.parse(box.dataset.keys || "{}");
    const message = pae(String(envelope.payloadType), payload);
    for (const s of envelope.signatures || []) {
      const raw = keys[s.keyid];
      if (!raw) continue;
      const key = await crypto.subtle.importKey("raw", b64(raw), { name: "Ed25519" }, false, ["verify"]);
      if (await crypto.subtle.verify({ name: "Ed25519" }, key, b64(s.sig), message)) return s.keyid;
    }
    return null;
  }

  async function run() {
    if (!window.crypto || !crypto.subtle) {
      show("unknown", "Not checked: this browser offers no WebCrypto here (it needs HTTPS or localhost).");
      return;
    }
    show("running", "Checking the bundle's files in your browser…");
    list.textContent = "";
    const envelope = JSON.parse(new TextDecoder().decode(await fetchBytes("attestation.json")));
    const payload = b64(envelope.payload);
    const statement = JSON.parse(new TextDecoder().decode(payload));
    const subjects = statement.subject || [];
    if (!subjects.length) throw new Error("the attestation lists no files");
    let bad = 0;
    for (const s of subjects) {
      const want = String((s.digest || {}).sha256 || "");
      let got = "";
      try {
        got = hex(await crypto.subtle.digest("SHA-256", await fetchBytes(s.name)));
      } catch (err) {
        bad++;
        item("mismatch", s.name + ": " + err.message);
        continue;
      }
      if (got === want) {
        item("match", s.name + " matches (sha256 " + got.slice(0, 12) + "…)");
      } else {
        bad++;
        item("mismatch", s.name + " differs: sha256 " + got.slice(0, 12) + "…, attested " + want.slice(0, 12) + "…");
      }
    }
    let signed = null, sigError = "";
    try {
      signed = await signature(envelope, payload);
    } catch (err) {
      sigError = " (" + err.message + ")";
    }
    if (signed) item("match", "signature valid (Ed25519, bundle key " + signed.slice(0, 12) + "…)");
    else item("mismatch", "signature: none valid by a bundle key of this service" + sigError);
    if (bad === 0 && signed) {
      show("ok", "Digests match: all " + subjects.length + " files match the attestation, and its signature is valid.");
    } else if (bad === 0) {
      show("fail", "Digests match, but the attestation's signature could not be verified.");
    } else {
      show("fail", bad + " of " + subjects.length + " files do not match the attestation: do not rely on this bundle.");
    }
  }

  run().catch((err) => show("fail", "Could not check the bundle: " + err.message));
})();
