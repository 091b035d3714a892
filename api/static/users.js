/* 用户 (admin): list, add, change role, disable or re-enable. */
"use strict";
(() => {
  const { api, el, toast } = LZ;
  const ROLES = { drafter: "起草人", reviewer: "审核人", admin: "管理员" };
  const tbody = document.querySelector("#users-table tbody");

  async function change(name, body) {
    try { await api(`/api/users/${encodeURIComponent(name)}`, { method: "PATCH", json: body }); toast("已保存", "ok"); }
    catch (err) { toast(err.message, "error"); }
    load();
  }

  async function load() {
    const data = await api("/api/users");
    tbody.replaceChildren(...data.users.map((u) => {
      const role = el("select", { onchange: (ev) => change(u.name, { role: ev.target.value }) },
        Object.entries(ROLES).map(([v, label]) => el("option", { value: v, selected: v === u.role }, label)));
      return el("tr", {}, el("td", {}, u.name), el("td", {}, role), el("td", {}, u.active ? "启用" : "已停用"),
        el("td", {}, LZ.time(u.created_at)),
        el("td", {}, el("button", { type: "button", class: "small", onclick: () => change(u.name, { active: !u.active }) }, u.active ? "停用" : "启用")));
    }));
  }

  const form = document.getElementById("user-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("/api/users", { json: { name: form.elements.name.value.trim(), role: form.elements.role.value, password: form.elements.password.value } });
      toast("已新增用户", "ok");
      form.reset();
      load();
    } catch (err) { toast(err.message, "error"); }
  });
  load().catch((err) => toast(err.message, "error"));
})();
