"""labelavg: self-distillation in linear probing as label averaging."""
