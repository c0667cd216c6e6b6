"""Recurrent layers: Keras's layers/rnn (SimpleRNN, LSTM, GRU, ConvLSTM1D/2D)."""
