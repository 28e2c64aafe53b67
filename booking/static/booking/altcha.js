// Solves the server's proof-of-work challenge in the background so that asking for a code
// costs a bot CPU time. Without JavaScript the form still works, under stricter limits.
(function () {
  "use strict";
  async function sha256hex(text) {
    const data = new TextEncoder().encode(text);
    const hash = await crypto.subtle.digest("SHA-256", data);
    return Array.from(new Uint8Array(hash)).map((b) => b.toString(16).padStart(2, "0")).join("");
  }
  async function solve(form) {
    const input = form.querySelector("input[name=altcha]");
    if (!input || !window.crypto || !crypto.subtle) return;
    const response = await fetch(form.dataset.altcha, { credentials: "same-origin" });
    const c = await response.json();
    for (let n = 0; n <= c.maxnumber; n++) {
      if ((await sha256hex(c.salt + n)) === c.challenge) {
        const payload = { algorithm: c.algorithm, challenge: c.challenge, salt: c.salt,
                          signature: c.signature, number: n };
        input.value = btoa(JSON.stringify(payload));
        return;
      }
    }
  }
  document.querySelectorAll("form[data-altcha]").forEach((form) => {
    const solving = solve(form).catch(() => {});
    form.addEventListener("submit", (event) => {
      const input = form.querySelector("input[name=altcha]");
      if (input && !input.value && !form.dataset.waited) {
        event.preventDefault();
        form.dataset.waited = "1";
        solving.finally(() => form.submit());
      }
    });
  });
})();
