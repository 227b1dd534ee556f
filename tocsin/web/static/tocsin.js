// Small progressive enhancements; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // Ask before irreversible moves (close, cancel).
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  // Select the secret shown once, so it is one tap to copy.
  document.querySelectorAll(".secret").forEach((el) => {
    el.addEventListener("click", () => window.getSelection().selectAllChildren(el));
  });
});
