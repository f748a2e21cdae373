import MicroHTTP
import Runs
