// The contact field's keyboard follows the kind chosen: a phone keypad for a phone number, an
// e-mail keyboard for an address. Without JavaScript the server sets it once the form comes
// back (booking/forms.py, set_contact_keyboard); until then the full keyboard serves both.
(function () {
  "use strict";
  const KEYBOARDS = {
    phone: { inputmode: "tel", autocomplete: "tel" },
    email: { inputmode: "email", autocomplete: "email" },
  };
  document.querySelectorAll("input[name=contact]").forEach((input) => {
    const radios = input.form.querySelectorAll("input[name=contact_kind]");
    const follow = () => {
      const chosen = Array.from(radios).find((radio) => radio.checked);
      const keyboard = chosen && KEYBOARDS[chosen.value];
      if (keyboard) {
        input.setAttribute("inputmode", keyboard.inputmode);
        input.setAttribute("autocomplete", keyboard.autocomplete);
      }
    };
    radios.forEach((radio) => radio.addEventListener("change", follow));
    follow();
  });
})();
