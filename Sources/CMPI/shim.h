// Declarations of Debian's Open MPI (libopenmpi-dev; <mpi/mpi.h> is its multiarch alternative). Like
// OpenBLAS, the library is loaded at run time, and only when `ember train` runs under mpirun
// (Sources/EmberMPI/OpenMPI.swift): Ember started by hand never touches it.
#include <mpi/mpi.h>
