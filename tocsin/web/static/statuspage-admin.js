// Status page admin: when the author picks another status for an update and has not
// edited the drafted message yet, show the draft for that status instead. Without this
// script the form still works; the message keeps the first draft.
"use strict";
document.querySelectorAll("textarea[data-drafts]").forEach((message) => {
  const drafts = JSON.parse(message.dataset.drafts);
  const form = message.form;
  form.querySelectorAll("input[name=status]").forEach((choice) => {
    choice.addEventListener("change", () => {
      const untouched = Object.values(drafts).includes(message.value);
      if (untouched && drafts[choice.value] !== undefined) message.value = drafts[choice.value];
    });
  });
});
