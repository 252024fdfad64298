/* Settings: the time-zone <select> becomes a text input searching the same zones (its <datalist>),
   so a gym can type "London" or "Japan" instead of scrolling 400 names. Without this file the
   select works as it is; a name typed that is no zone gets a suggestion from the server. */
(function () {
  "use strict";

  function enhance(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("select[data-zone-search]").forEach(function (select) {
      var input = document.createElement("input");
      input.type = "text";
      input.name = select.name;
      input.id = select.id;
      input.className = "input";
      input.value = select.value;
      input.setAttribute("list", select.getAttribute("data-zone-search"));
      input.setAttribute("autocomplete", "off");
      input.setAttribute("spellcheck", "false");
      ["aria-describedby", "aria-invalid", "required"].forEach(function (name) {
        if (select.hasAttribute(name)) input.setAttribute(name, select.getAttribute(name));
      });
      select.replaceWith(input);
    });
  }

  if (window.htmx) {
    htmx.onLoad(enhance);  // the page, and every settings form htmx swaps in (errors re-rendered)
  } else {
    document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  }
})();
