/* Job tables shared by 批量 and 归并: live progress bars, cancel, downloads, and the upload form. */
"use strict";
const LZJobs = (() => {
  const { api, el, toast } = LZ;

  function progressCell(job) {
    const share = job.status === "done" ? 1 : job.progress || 0;
    const bar = el("div", { class: "bar", role: "progressbar", "aria-valuenow": String(Math.round(share * 100)) },
      el("i", { style: `width:${(share * 100).toFixed(1)}%` }));
    let text;
    if (job.status === "queued") text = "排队等待中";
    else if (job.status === "failed") text = job.error || "失败";
    else if (job.total) {
      text = `已处理 ${job.done.toLocaleString()} / ${job.total.toLocaleString()} 行`;
      if (job.status === "running") text += ` · ${job.rate} 行/秒 · 预计剩余 ${LZ.duration(job.eta_s)}`;
    } else text = job.status === "running" ? "正在读取文件……" : "";
    if (job.status === "running" && job.stage) text = job.stage;
    if (job.resumed && job.status !== "done") text += "（服务重启后继续）";
    return el("td", {}, bar, el("div", { class: "bar-text" }, text));
  }

  function fileLinks(job) {
    return (job.files || []).filter((f) => f.kind !== "chart" && f.kind !== "groups").map((f) =>
      el("a", { href: LZ.fileUrl(job, f), class: "download", download: f.name }, "下载" + f.label));
  }

  function render(tbody, empty, jobs, selectedId, onSelect) {
    tbody.replaceChildren();
    empty.hidden = jobs.length > 0;
    for (const job of jobs) {
      const actions = [];
      if (job.status === "done") {
        actions.push(...fileLinks(job));
        if (onSelect) actions.push(el("button", { type: "button", class: "small", onclick: () => onSelect(job) }, "查看"));
      }
      if (job.status === "queued" || job.status === "running") {
        actions.push(el("button", { type: "button", class: "small", onclick: async () => {
          try { await api(`/api/jobs/${job.id}/cancel`, { method: "POST" }); toast("已请求取消"); } catch (e) { toast(e.message, "error"); }
        } }, "取消"));
      }
      tbody.append(el("tr", { class: job.id === selectedId ? "selected" : "", dataset: { jobId: job.id, status: job.status } },
        el("td", { class: "nowrap" }, "#" + job.id),
        el("td", {}, job.original_name),
        el("td", { class: "nowrap st-" + job.status }, job.status_label),
        progressCell(job),
        el("td", { class: "nowrap" }, LZ.time(job.created_at)),
        el("td", { class: "actions" }, actions)));
    }
  }

  /* Polls the job list: quickly while something runs, slowly otherwise. */
  function watch(kind, tbody, empty, { onSelect, onFinished } = {}) {
    let selected = null;
    const seenDone = new Set();
    let first = true;
    async function refresh() {
      let busy = false;
      try {
        const data = await api(`/api/jobs?kind=${kind}`);
        render(tbody, empty, data.jobs, selected, (job) => { selected = job.id; onSelect && onSelect(job); refresh(); });
        for (const job of data.jobs) {
          if (job.status === "queued" || job.status === "running") busy = true;
          if (job.status === "done" && !seenDone.has(job.id)) {
            seenDone.add(job.id);
            if (!first && onFinished) onFinished(job);
          }
        }
        first = false;
      } catch (err) {
        if (err.status === 401) location.href = "/login?next=" + encodeURIComponent(location.pathname);
      }
      setTimeout(refresh, busy ? 1000 : 5000);
    }
    refresh();
    return { refresh: () => refresh(), select: (id) => { selected = id; } };
  }

  /* Wires an upload form: raw file body with progress, then a job id back. */
  function uploadForm(form, fileInput, url, progress, status, onQueued, extraParams) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const file = fileInput.files[0];
      if (!file) return;
      const params = {};
      for (const field of form.elements) {
        if (!field.name || field === fileInput) continue;
        if (field.type === "checkbox") { if (field.checked) params[field.name] = field.value || "1"; }
        else if (field.value) params[field.name] = field.value;
      }
      Object.assign(params, extraParams ? extraParams() : {});
      const submit = form.querySelector("button[type=submit]");
      submit.disabled = true;
      progress.hidden = false;
      progress.value = 0;
      status.textContent = "上传中……";
      try {
        const job = await LZ.upload(url, file, params, (share) => { progress.value = share * 100; });
        status.textContent = `已排队：任务 #${job.id}`;
        toast(`已上传，任务 #${job.id} 开始排队`, "ok");
        form.reset();
        onQueued(job);
      } catch (err) {
        status.textContent = "";
        toast(err.message, "error", 8000);
      } finally {
        submit.disabled = false;
        progress.hidden = true;
      }
    });
  }

  return { watch, uploadForm, render };
})();
