/* The booking assistant's panel: one enhancement. Without this file (or without JavaScript) the
   panel is a plain form; with htmx, answers are appended to the log (see templates/_macros/assistant.html). */
(function () {
  "use strict";
  // Enter sends, Shift+Enter starts a new line, as in most chat boxes.
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (!box || box.id !== "assistant-message" || event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    if (box.value.trim() && box.form && !box.form.querySelector("button[disabled]")) box.form.requestSubmit();
  });
})();
