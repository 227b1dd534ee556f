// Small progressive enhancements; every page works without this file.
(() => {
  "use strict";

  // The same rules as templating.duration(): '3d 4h', '2h 05m', '7m', '<1m'.
  const duration = (ms) => {
    const seconds = Math.floor(ms / 1000);
    if (seconds < 60) return seconds >= 0 ? "<1m" : "in the future";
    const minutes = Math.floor(seconds / 60) % 60;
    const hours = Math.floor(seconds / 3600) % 24;
    const days = Math.floor(seconds / 86400);
    if (days) return `${days}d ${hours}h`;
    if (hours) return `${hours}h ${String(minutes).padStart(2, "0")}m`;
    return `${minutes}m`;
  };

  const refreshDurations = () => {
    document.querySelectorAll("[data-since]").forEach((el) => {
      const start = Date.parse(el.dataset.since);
      if (!Number.isNaN(start)) el.textContent = duration(Date.now() - start);
    });
  };

  document.addEventListener("DOMContentLoaded", () => {
    // Ask before irreversible moves (close, revoke, remove).
    document.querySelectorAll("form[data-confirm]").forEach((form) => {
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });

    // One tap, one submission: a second tap at 3 a.m. must not declare a second incident.
    // (A form with data-live sends by script and stays usable; it guards itself.)
    document.querySelectorAll("form[method=post]:not([data-live])").forEach((form) => {
      form.addEventListener("submit", (event) => {
        if (event.defaultPrevented) return;
        if (form.dataset.submitting) {
          event.preventDefault();
          return;
        }
        form.dataset.submitting = "1";
        // After this tick, so the browser has already read the form.
        setTimeout(() => {
          form.querySelectorAll("button[type=submit]").forEach((button) => {
            button.disabled = true;
          });
        }, 0);
      });
    });

    // Filters apply as soon as a choice changes.
    document.querySelectorAll("form[data-autosubmit]").forEach((form) => {
      form.querySelectorAll("select, input[type=checkbox]").forEach((input) => {
        input.addEventListener("change", () => form.requestSubmit());
      });
    });

    // Ctrl/Cmd+Enter sends a note or an explanation without reaching for the button.
    document.querySelectorAll("form textarea").forEach((area) => {
      area.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          area.form.requestSubmit();
        }
      });
    });

    // Opening "Resolve…" or "Cancel…" puts the cursor where the words go.
    document.querySelectorAll("details.action").forEach((details) => {
      details.addEventListener("toggle", () => {
        if (details.open) details.querySelector("textarea")?.focus();
      });
    });

    // Select the secret shown once, so it is one tap to copy; a Copy button beside it.
    document.querySelectorAll(".secret").forEach((el) => {
      el.addEventListener("click", () => window.getSelection().selectAllChildren(el));
      const copy = document.createElement("button");
      copy.type = "button";
      copy.className = "copy";
      copy.textContent = "Copy";
      copy.setAttribute("aria-label", "Copy to the clipboard");
      copy.addEventListener("click", async () => {
        const text = el.textContent.trim();
        try {
          await navigator.clipboard.writeText(text);
        } catch {
          // No clipboard API (plain http beyond localhost): copy the selection instead.
          window.getSelection().selectAllChildren(el);
          document.execCommand("copy");
        }
        copy.textContent = "Copied";
        setTimeout(() => {
          copy.textContent = "Copy";
        }, 2000);
      });
      el.after(copy);
    });

    // "Go back" on an error page returns to the page before (a link home without script).
    document.querySelectorAll("a[data-back]").forEach((link) => {
      link.addEventListener("click", (event) => {
        if (window.history.length < 2) return;
        event.preventDefault();
        window.history.back();
      });
    });

    // Coming back with the Back button shows the page as it was left: let it be used again.
    window.addEventListener("pageshow", (event) => {
      if (!event.persisted) return;
      document.querySelectorAll("form[data-submitting]").forEach((form) => {
        delete form.dataset.submitting;
        form.querySelectorAll("button[type=submit]").forEach((button) => {
          button.disabled = false;
        });
      });
    });

    refreshDurations();
    setInterval(refreshDurations, 30000);
  });
})();
