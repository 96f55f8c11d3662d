/* Embeds the compact R4 definitions (built by tools/gen_definitions.py) into the binary. */
    .section .rodata
    .global benhan_r4_definitions_begin
    .global benhan_r4_definitions_end
    .balign 16
benhan_r4_definitions_begin:
    .incbin BENHAN_DEFS_PATH
benhan_r4_definitions_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
