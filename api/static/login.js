/* 登录 page. */
"use strict";
(() => {
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    const body = { name: form.elements.name.value.trim(), password: form.elements.password.value };
    try {
      await LZ.api("/api/login", { json: body });
      location.href = form.dataset.next || "/";
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  });
})();
