from .oeem_loss import OEEMLoss

__all__ = ['OEEMLoss']
