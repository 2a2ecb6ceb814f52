"""Translations of every surface's sentences, one package per language (`bot.i18n` picks one)."""
