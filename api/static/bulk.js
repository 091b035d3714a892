/* 批量: upload an export, watch the progress bar, download the result, read the report and its charts. */
"use strict";
(() => {
  const { api, el } = LZ;
  const form = document.getElementById("bulk-form");
  const reportPanel = document.getElementById("bulk-report");

  const SUMMARY_LABELS = { rows: "总行数", errors: "无法匹配的行" };

  function showReport(job) {
    reportPanel.hidden = false;
    document.getElementById("bulk-report-title").textContent = `任务 #${job.id} · ${job.original_name}`;
    const stats = document.getElementById("bulk-summary");
    stats.replaceChildren();
    for (const [key, label] of Object.entries(SUMMARY_LABELS)) {
      const value = job.summary[key];
      if (value === undefined || value === null) continue;
      const shown = Array.isArray(value) ? value.length : typeof value === "object" ? Object.keys(value).length : value;
      stats.append(el("div", { class: "stat" }, el("b", {}, Number(shown).toLocaleString()), el("span", {}, label)));
    }
    const files = document.getElementById("bulk-files");
    files.replaceChildren(...job.files.filter((f) => f.kind !== "chart").map((f) =>
      el("a", { href: LZ.fileUrl(job, f), class: "download", download: f.name }, `下载${f.label}（${f.name}）`)));
    document.getElementById("bulk-notes").replaceChildren(...(job.summary.notes || []).map((n) => el("li", {}, n)));
    const html = job.files.find((f) => f.kind === "report" && f.name.endsWith(".html"));
    const frame = document.getElementById("bulk-report-frame");
    frame.hidden = !html;
    if (html) frame.src = LZ.fileUrl(job, html);
    // Without an HTML report, the charts and the text report are shown directly.
    const charts = document.getElementById("bulk-charts");
    charts.replaceChildren(...(html ? [] : job.files.filter((f) => f.kind === "chart")).map((f) =>
      el("figure", {}, el("img", { src: LZ.fileUrl(job, f), alt: f.label, loading: "lazy" }), el("figcaption", {}, f.label))));
    const text = document.getElementById("bulk-report-text");
    text.hidden = !!html || !job.summary.report_text;
    text.textContent = job.summary.report_text || "";
  }

  const watcher = LZJobs.watch("bulk", document.querySelector("#bulk-jobs tbody"), document.getElementById("bulk-empty"), {
    onSelect: showReport,
    onFinished: (job) => { LZ.toast(`任务 #${job.id} 已完成`, "ok"); watcher.select(job.id); showReport(job); },
  });
  if (!form.dataset.disabled) {
    LZJobs.uploadForm(form, document.getElementById("bulk-file"), "/api/jobs/bulk",
      document.getElementById("bulk-upload-progress"), document.getElementById("bulk-upload-status"), () => watcher.refresh());
  }
})();
