"""Pure, vectorised physics of quantum networks, one cited function per formula.

Modules: :mod:`~qnetrl.physics.channel` (fibre loss, BPSK over AWGN / Rayleigh / Rician fading),
:mod:`~qnetrl.physics.qkd` (BB84, decoy BB84, MDI-QKD, repeaterless bounds) and
:mod:`~qnetrl.physics.entanglement` (Werner and Bell-diagonal states: swapping, purification,
memory decoherence, heralded link generation). Every function accepts scalars or numpy arrays and
broadcasts; invalid arguments raise :class:`qnetrl.InvalidParameterError` naming the argument.
"""

__all__ = ["channel", "entanglement", "qkd"]
