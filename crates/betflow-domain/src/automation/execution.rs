//! Automations: execution (see the module's parent for the whole picture).
